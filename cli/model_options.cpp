#include "cli/model_options.h"

#include "exporters/gguf/gguf_architecture.h"

namespace qforge::cli {

void add_model_source_options(CLI::App& command, trainers::ModelSource& source) {
  CLI::Option* checkpoint = command.add_option("--checkpoint", source.checkpoint, "Run folder holding checkpoint.bin")
                                ->check(CLI::ExistingDirectory);
  CLI::Option* gguf = command.add_option("--gguf", source.gguf, "llama.cpp GGUF file (arch " + exporters::gguf::gguf_architecture_names() +
                                                                  "; SentencePiece or gpt2 byte-level BPE vocabulary)")
                          ->check(CLI::ExistingFile);
  CLI::Option* hf = command.add_option("--hf", source.hf,
                                       "Hugging Face model folder: config.json + model.safetensors or shards with "
                                       "model.safetensors.index.json (Llama, Mistral, Qwen2; token ids only for now)")
                       ->check(CLI::ExistingDirectory);
  checkpoint->excludes(gguf);
  checkpoint->excludes(hf);
  gguf->excludes(hf);
}

void add_lora_options(CLI::App& command, trainers::ModelSource& source) {
  CLI::Option* lora = command.add_option("--lora", source.lora, "LoRA adapter: llama.cpp adapter GGUF file or PEFT directory")
                          ->check(CLI::ExistingPath);
  command.add_option("--lora-scale", source.lora_scale, "Scale of the --lora adapter (llama.cpp's user scale)")
      ->default_val(1.0)
      ->needs(lora);
}

}  // namespace qforge::cli
