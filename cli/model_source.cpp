// --checkpoint / --gguf model loading for the inference commands.
#include "cli/model_source.h"

#include <filesystem>
#include <stdexcept>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/gguf/spm_tokenizer.h"
#include "exporters/lora/apply_lora.h"
#include "trainers/language_model_inference.h"

namespace qforge::cli {

namespace gg = qforge::exporters::gguf;

namespace {

void check_one_source(const ModelSource& source) {
  if (source.checkpoint.empty() == source.gguf.empty())
    throw std::invalid_argument("give exactly one of --checkpoint DIR and --gguf FILE");
}

void set_gguf_tokenizer(LoadedModel& out, const gg::GgufReader& reader, const std::string& path) {
  auto tokenizer = std::make_shared<const gg::SpmTokenizer>(gg::SpmTokenizer::from_gguf(reader.file(), path));
  out.vocab_size = static_cast<int64_t>(tokenizer->size());
  out.encode = [tokenizer](std::string_view text) {
    const std::vector<int32_t> ids = tokenizer->encode(text);
    return std::vector<int64_t>(ids.begin(), ids.end());
  };
  out.decode = [tokenizer](std::span<const int64_t> ids) {
    return tokenizer->decode(std::vector<int32_t>(ids.begin(), ids.end()));
  };
}

// The run's tokenizer, shared by the encode/decode closures.
void set_run_tokenizer(LoadedModel& out, std::shared_ptr<const data::Tokenizer> tokenizer) {
  out.vocab_size = tokenizer->vocab_size();
  out.encode = [tokenizer](std::string_view text) {
    const data::TokenIds ids = tokenizer->encode(text);
    return std::vector<int64_t>(ids.begin(), ids.end());
  };
  out.decode = [tokenizer](std::span<const int64_t> ids) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= tokenizer->vocab_size())
        data::throw_id_outside_vocabulary("decode", static_cast<uint32_t>(ids[i]), i, tokenizer->vocab_size());
    }
    return tokenizer->decode(data::TokenIds(ids.begin(), ids.end()));
  };
}

}  // namespace

void add_model_source_options(CLI::App& command, ModelSource& source) {
  CLI::Option* checkpoint = command.add_option("--checkpoint", source.checkpoint, "Run folder holding checkpoint.bin")
                                ->check(CLI::ExistingDirectory);
  CLI::Option* gguf = command.add_option("--gguf", source.gguf, "llama.cpp GGUF file (arch llama, SentencePiece vocabulary)")
                          ->check(CLI::ExistingFile);
  checkpoint->excludes(gguf);
}

void add_lora_options(CLI::App& command, ModelSource& source) {
  CLI::Option* lora = command.add_option("--lora", source.lora, "LoRA adapter: llama.cpp adapter GGUF file or PEFT directory")
                          ->check(CLI::ExistingPath);
  command.add_option("--lora-scale", source.lora_scale, "Scale of the --lora adapter (llama.cpp's user scale)")
      ->default_val(1.0)
      ->needs(lora);
}

namespace {

LoadedModel load_base_model(const ModelSource& source) {
  LoadedModel out;
  if (!source.checkpoint.empty()) {
    trainers::InferenceModel restored = trainers::restore_inference_model(source.checkpoint);
    out.model = restored.model;
    set_run_tokenizer(out, std::move(restored.tokenizer));
    return out;
  }
  const gg::GgufReader reader{std::filesystem::path(source.gguf)};
  out.model = gg::read_llama_gguf(reader, source.gguf).model;
  out.model->eval();
  set_gguf_tokenizer(out, reader, source.gguf);
  if (out.vocab_size != out.model->config().vocab_size)
    throw std::invalid_argument(source.gguf + ": tokenizer.ggml.tokens has " + std::to_string(out.vocab_size) +
                                " tokens but token_embd.weight has " + std::to_string(out.model->config().vocab_size) +
                                " rows");
  return out;
}

void apply_lora_option(const ModelSource& source, layers::LlamaForCausalLM& model) {
  if (source.lora.empty()) return;
  try {
    const exporters::lora::LoraAdapter adapter = exporters::lora::load_lora_adapter(source.lora, model.config());
    exporters::lora::apply_lora(model, adapter, source.lora_scale);
  } catch (const std::exception& e) {
    throw std::invalid_argument("--lora " + source.lora + ": " + e.what());
  }
}

}  // namespace

LoadedModel load_model(const ModelSource& source) {
  check_one_source(source);
  LoadedModel out = load_base_model(source);
  apply_lora_option(source, *out.model);
  return out;
}

LoadedModel load_tokenizer(const ModelSource& source) {
  check_one_source(source);
  LoadedModel out;
  if (!source.checkpoint.empty()) {
    set_run_tokenizer(out, trainers::restore_inference_model(source.checkpoint).tokenizer);
    return out;
  }
  const gg::GgufReader reader{std::filesystem::path(source.gguf)};
  set_gguf_tokenizer(out, reader, source.gguf);
  return out;
}

}  // namespace qforge::cli
