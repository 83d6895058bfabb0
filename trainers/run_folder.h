#pragma once
// Run folders restored, and the model a command runs on. The one place that turns a folder
// (checkpoint.bin with the config saved in it) back into a config, a tokenizer and a model, in the
// three forms commands need: as eval/generate run it (quantizers and adapters applied), as exporters
// read it (a plain float Llama, exporters/model_export.h), and the trained LoRA adapter alone. Also the
// one place that loads "the model a command runs on": a run folder, or a llama.cpp GGUF file with its
// own tokenizer, optionally with a LoRA adapter merged as llama.cpp applies it.
//
// A LoRA run's base is itself a run folder or a GGUF file (trainers/lora_model.h), so restoring a LoRA
// run restores its base through this file again: the one documented include cycle of trainers/.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"
#include "exporters/model_export.h"
#include "layers/llama.h"
#include "trainers/checkpoint.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

struct RunFolder {
  std::filesystem::path dir;
  Checkpoint checkpoint;
  config::RunConfig config;  // parsed from checkpoint.config_text
  // "<dir>/checkpoint.bin", the name errors about the file use.
  std::string checkpoint_path() const;
  // metadata_value(checkpoint.metadata, key, dir).
  const std::string& metadata(const std::string& key) const;
};

// Reads dir/checkpoint.bin and parses its config; a missing, truncated or foreign file or a config
// that no longer parses throws naming the file. The optimizer state is read only when asked for
// (resuming training); everything else leaves it on disk.
RunFolder open_run_folder(const std::filesystem::path& dir, CheckpointParts parts = CheckpointParts::kWithoutOptimizer);
// True when `path` is a directory holding checkpoint.bin.
bool is_run_folder(const std::filesystem::path& path);

// Copies the float parameters saved in run_dir's checkpoint into `model`, whose quantizer parameters
// keep their initial values. Every float parameter of the model must be in the checkpoint with the
// same shape (errors name the parameter and the file).
void load_float_weights(layers::Module& model, const std::filesystem::path& run_dir);
// The same from a run folder already open (no second read of its checkpoint).
void load_float_weights(layers::Module& model, const RunFolder& run);
// What quantization.init_from starts a run from. A float run: load_float_weights. A quantized run (a
// post-training cell, e.g. GPTQ's): its weights and every quantizer's state too (scales, zero points,
// counters; strict: the model's quantizers must be laid out as the run's), so step 0 is that model:
// observer-driven (STE) weight quantizers stay frozen on its scales, learned ones (LSQ) start from them.
// A Hugging Face model folder (exporters/hf: config.json and safetensors): its tensors go straight into
// the float parameters (every one must be there, names and shapes as config.json implies).
void load_init_weights(layers::Module& model, const std::filesystem::path& run_dir);
// `config` with model.llama.hf set to quantization.init_from when that is a Hugging Face folder and the
// model section names no architecture of its own (no hf, no hidden_size): the saved config then
// records the folder, so resuming or evaluating the run rebuilds its graph. Other configs unchanged.
config::RunConfig with_init_model(const config::RunConfig& config);

// A language-model run's tokenizer, model shape and output token strings. Throws naming the folder
// when the run is not a language model (no model.llama), or trained on token ids (it has no tokenizer
// for `needs`, e.g. "its corpus"). With `ids_allowed`, a token-id run whose config fixes the vocabulary
// (model.llama.vocab_size or model.llama.hf) comes back with a null tokenizer and no output tokens.
struct LanguageModelRun {
  std::unique_ptr<data::Tokenizer> tokenizer;
  layers::LlamaConfig model_config;        // output vocabulary included (reserve_gguf_tokens)
  std::vector<std::string> output_tokens;  // token strings by output id
};
LanguageModelRun language_model_run(const RunFolder& run, const std::string& needs, bool ids_allowed = false);

// The model as eval and generate run it: eval mode, the run's fake quantizers applied, a LoRA run's
// adapters unmerged on its packed base, as they trained. A token-id run whose vocabulary the config fixes
// has a null tokenizer (language_model_run).
struct InferenceModel {
  std::shared_ptr<layers::LlamaForCausalLM> model;
  std::unique_ptr<data::Tokenizer> tokenizer;
};
InferenceModel restore_inference_model(const std::filesystem::path& dir);

// The model as exporters read it (exporters::LlamaExport says what each weight holds). Activation
// quantizers cannot be expressed in a model file; `notes` names them, and a LoRA merge.
exporters::LlamaExport restore_language_model(const std::filesystem::path& dir);
// The adapter a LoRA run trained, with its PEFT-style config; reads the checkpoint only (the base is
// not rebuilt). Throws naming `dir` when it is not a LoRA run.
exporters::LoraAdapterExport restore_lora_adapter(const std::filesystem::path& dir);
// What exporter input `input` needs from the run in `dir` (the registry's Exporter::input).
exporters::ExportSource export_source(const std::filesystem::path& dir, exporters::ExportInput input);

// ---- The model a command runs on (load_model.cpp) ----

struct ModelSource {
  std::string checkpoint;   // run folder holding checkpoint.bin
  std::string gguf;         // or a llama.cpp GGUF file
  std::string hf;           // or a Hugging Face model folder (exporters/hf/hf_model_reader.h)
  std::string lora;         // optional LoRA adapter: GGUF adapter file or PEFT directory
  double lora_scale = 1.0;  // llama.cpp's user scale of that adapter
};

struct LoadedModel {
  std::shared_ptr<layers::LlamaForCausalLM> model;  // eval mode
  int64_t vocab_size = 0;  // run folder: the run's tokenizer; GGUF: the token count of tokenizer.ggml.tokens
  std::function<std::vector<int64_t>(std::string_view)> encode;
  std::function<std::string(std::span<const int64_t>)> decode;  // ids outside the vocabulary throw; null: none (HF)
};

// std::invalid_argument when not exactly one of checkpoint, gguf and hf is given, or the GGUF token count
// differs from its token_embd rows. With `lora`, the adapter is merged into the loaded FP32
// (dequantized) weights as llama.cpp applies it: W + lora_scale · alpha / r · B A (docs/gguf.md §10).
LoadedModel load_model(const ModelSource& source);
// An HF folder's tokenizer is its tokenizer.json (trainers/hf_text_tokenizer.h), ids limited to config.json's
// vocab_size; a folder without one has ids only (`encode` throws saying so, `decode` is null).
// Only the tokenizer (no weights are read): for `qforge tokenize` on vocabulary-only GGUF files.
LoadedModel load_tokenizer(const ModelSource& source);

}  // namespace qforge::trainers
