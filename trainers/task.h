#pragma once
// A Task is what a run trains: a model, its data and its loss. The trainer loop (trainer.cpp) only
// talks to this interface, so classifiers and language models share one loop, one checkpoint format
// and one resume path. trainers/task_factory.h makes the task a config describes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "layers/module.h"
#include "trainers/checkpoint.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

struct Evaluation {
  double loss = 0.0;
  std::optional<double> accuracy;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual layers::Module& model() = 0;
  // Loss of the training batch for optimizer step `step` (0-based); advances the data position.
  virtual autograd::Variable training_loss(int64_t step) = 0;
  // Loss of calibration batch `batch` (0-based) for post-training methods (ptq/method.h), on its first
  // `rows` samples (<= samples_per_batch(); fewer in the last batch of a sample count that is not a
  // multiple): the same training-data items on every call with the same index, since methods run the
  // set several times.
  virtual autograd::Variable calibration_loss(int64_t batch, int64_t rows) = 0;
  // Samples (images, or sequences of the model's context) in one batch: data.batch_size.
  virtual int64_t samples_per_batch() const = 0;
  virtual int64_t items_per_step() const = 0;  // samples or tokens in one batch
  virtual const char* item_unit() const = 0;   // "samples" | "tokens"
  // Mean loss (and accuracy) on held-out data; max_batches <= 0 means all of it. Does not
  // disturb the training data position.
  virtual Evaluation evaluate(int64_t max_batches) = 0;
  // Steps the run takes when trainer.steps is 0 (from epochs for classifiers).
  virtual int64_t default_steps(const config::TrainerConfig& trainer) const = 0;
  // Data-position state and what generation needs, saved in checkpoints.
  virtual StringPairs save_state() const = 0;
  virtual void load_state(const StringPairs& state) = 0;
};

}  // namespace qforge::trainers
