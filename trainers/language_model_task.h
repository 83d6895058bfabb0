#pragma once
// Next-token prediction with the Llama decoder on text: a char- or byte-level tokenizer over a
// corpus (default: Debian's English fortunes) or a pre-tokenized id file, random training windows,
// validation on consecutive windows of the held-out tail.
#include <memory>

#include "data/token_windows.h"
#include "data/tokenizer.h"
#include "layers/llama.h"
#include "trainers/task.h"

namespace qforge::trainers {

class LanguageModelTask : public Task {
 public:
  explicit LanguageModelTask(const config::RunConfig& config);

  layers::Module& model() override { return *model_; }
  autograd::Variable training_loss(int64_t step) override;
  int64_t items_per_step() const override { return batch_size_ * context_; }
  const char* item_unit() const override { return "tokens"; }
  Evaluation evaluate(int64_t max_batches) override;
  int64_t default_steps(const config::TrainerConfig& trainer) const override;
  StringPairs save_state() const override;
  void load_state(const StringPairs& state) override;

 private:
  std::shared_ptr<layers::LlamaForCausalLM> model_;
  std::unique_ptr<data::WindowSampler> train_windows_;
  data::TokenIds validation_;
  std::string tokenizer_kind_, vocabulary_;
  int64_t batch_size_, context_;
};

// The [data.text.corpus_begin, corpus_end) part of `corpus`, cut at UTF-8 character boundaries.
std::string corpus_part(const std::string& corpus, const config::TextData& text);
// Hugging Face-style Llama config from the run config, defaults filled in.
layers::LlamaConfig llama_config(const config::LlamaConfig& llama, int64_t tokenizer_vocab, uint64_t seed);

// The tokenizer a run saved ("char" with its vocabulary, or "byte").
std::unique_ptr<data::Tokenizer> restore_tokenizer(const std::string& kind, const std::string& vocabulary);

// Token strings by id as a GGUF vocabulary names them: byte tokens "<0xXX>", chars as UTF-8.
std::vector<std::string> token_strings(const std::string& kind, const data::Tokenizer& tokenizer);
// The model's output size: the tokenizer's, or with model.llama.reserve_gguf_tokens the GGUF export's
// token count (run_config.proto).
int64_t output_vocabulary(const config::LlamaConfig& llama, const std::string& kind, const data::Tokenizer& tokenizer);
// The token strings for every output id (reserved GGUF tokens included), for export.
std::vector<std::string> output_token_strings(const config::LlamaConfig& llama, const std::string& kind,
                                              const data::Tokenizer& tokenizer);

}  // namespace qforge::trainers
