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
  // Windows of the training split from the generator (trainer.seed, stream 2^32 + batch).
  autograd::Variable calibration_loss(int64_t batch, int64_t rows) override;
  // The input ids [rows, context] of calibration batch `batch` (its first `rows` windows).
  autograd::IndexTensor calibration_inputs(int64_t batch, int64_t rows) const;
  int64_t samples_per_batch() const override { return batch_size_; }
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
  uint64_t seed_;
};

}  // namespace qforge::trainers
