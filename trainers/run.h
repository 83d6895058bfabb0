#pragma once
// The three things a user does with a run: train it (resuming where it stopped), evaluate a
// checkpoint, and sample text from a language-model checkpoint. The CLI is a thin layer over these.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layers/llama.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

struct RunResult {
  int64_t step = 0;
  double train_loss = 0.0;  // mean over the last logging window
  double val_loss = 0.0;
  std::optional<double> val_accuracy;  // classifiers only
};

// "final: step=N train_loss=X val_loss=Y[ val_accuracy=Z]", the last line of train and eval.
std::string final_line(const RunResult& result);

struct TrainOptions {
  std::filesystem::path run_dir;  // checkpoint.bin, metrics.jsonl and config.pbtxt live here
  bool fresh = false;             // ignore an existing checkpoint instead of resuming from it
  int64_t stop_after_steps = 0;   // > 0: stop (with a checkpoint) after this many steps of this call
};

// Trains `config`; resumes from run_dir/checkpoint.bin when present (the saved config must match
// apart from trainer.steps and logging fields, otherwise it throws naming the difference).
RunResult train(const config::RunConfig& config, const TrainOptions& options);

// Loss (and accuracy for classifiers) of the checkpoint's model on its validation/test data.
RunResult evaluate(const std::filesystem::path& checkpoint_dir);

struct GenerateOptions {
  std::string prompt;
  int64_t max_new_tokens = 200;
  float temperature = 0.8f;  // 0: greedy
  int64_t top_k = 0;         // 0: whole vocabulary
  uint64_t seed = 0;
  int64_t vocabulary_limit = 0;  // sample among ids < limit (the tokenizer's); 0: every output
};
// Prompt followed by sampled continuation, decoded with the run's tokenizer.
std::string generate(const std::filesystem::path& checkpoint_dir, const GenerateOptions& options);

// A language-model run's weights and token strings by id, for export (GGUF). Byte-tokenizer ids map
// to "<0xXX>" (llama.cpp's byte tokens); char-tokenizer ids to their UTF-8 character.
// QAT runs are restored with their quantizers, then `model` is a plain float Llama holding
//   - the latent (float) weight of every weight trained with a GGUF block type; `ggml_types` says
//     which type, and encoding it with that type's codec reproduces the trained forward bit for bit;
//   - the fake-quantized values (as the eval-mode forward used them) of every weight trained with
//     another scheme (int4:g32, nf4, ...): a float or GGUF file then starts from the trained weights;
//   - every other parameter as stored.
// Input (activation) quantizers cannot be expressed in GGUF; `notes` names them.
struct LanguageModelExport {
  std::shared_ptr<layers::LlamaForCausalLM> model;
  std::vector<std::string> vocabulary;
  std::map<std::string, uint32_t> ggml_types;  // parameter name -> ggml type id it trained with
  std::string preset;                          // the run's quantization.preset ("" when none)
  std::vector<std::string> notes;              // one line per quantizer the file cannot express
};
LanguageModelExport restore_language_model(const std::filesystem::path& checkpoint_dir);

}  // namespace qforge::trainers
