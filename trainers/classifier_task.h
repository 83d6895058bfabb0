#pragma once
// Image classification on Fashion-MNIST with an MLP or a CNN: cross-entropy on shuffled batches,
// accuracy on the 10,000 test images.
#include "data/batch_iterator.h"
#include "data/fashion_mnist.h"
#include "trainers/task.h"

namespace qforge::trainers {

class ClassifierTask : public Task {
 public:
  explicit ClassifierTask(const config::RunConfig& config);

  layers::Module& model() override { return *model_; }
  autograd::Variable training_loss(int64_t step) override;
  // The step batch `batch` (fixed by the step), cut to its first `rows` images.
  autograd::Variable calibration_loss(int64_t batch, int64_t rows) override;
  int64_t samples_per_batch() const override { return batch_size_; }
  int64_t items_per_step() const override { return batch_size_; }
  const char* item_unit() const override { return "samples"; }
  Evaluation evaluate(int64_t max_batches) override;
  int64_t default_steps(const config::TrainerConfig& trainer) const override;
  // Batches are a pure function of (seed, step): there is no position to save.
  StringPairs save_state() const override { return {}; }
  void load_state(const StringPairs&) override {}

  autograd::Variable logits(const autograd::Tensor& images);

 private:
  std::shared_ptr<layers::UnaryModule> model_;
  data::ImageDataset train_, test_;
  std::unique_ptr<data::ImageBatches> batches_;
  int64_t batch_size_;
};

// The classifier network for model.mlp or model.cnn, seeded.
std::shared_ptr<layers::UnaryModule> make_classifier(const config::ModelConfig& model, uint64_t seed);

}  // namespace qforge::trainers
