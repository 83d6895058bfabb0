#pragma once
// A Task is what a run trains: a model, its data and its loss. The trainer loop (trainer.cpp) only
// talks to this interface, so classifiers and language models share one loop, one checkpoint format
// and one resume path. trainers/task_factory.h makes the task a config describes.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
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
  // After set_data_shard it is the mean loss of this rank's rows of that batch only.
  virtual autograd::Variable training_loss(int64_t step) = 0;
  // Data-parallel training (trainers/data_parallel.h): every rank draws the same global batch of
  // samples_per_batch() rows and keeps rows [rank * B / ranks, (rank + 1) * B / ranks), so the batches,
  // their order and the data position do not depend on the number of ranks. B % ranks == 0 (checked
  // by the caller).
  void set_data_shard(int64_t rank, int64_t ranks) { shard_rank_ = rank, shard_ranks_ = ranks; }
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

 protected:
  // The first row and the row count of this rank's shard of a batch of `rows` rows.
  std::pair<int64_t, int64_t> shard_rows(int64_t rows) const {
    if (rows % shard_ranks_ != 0)
      throw std::invalid_argument("data-parallel training: a batch of " + std::to_string(rows) + " rows does not split over " +
                                  std::to_string(shard_ranks_) + " ranks (the rows of a batch must be a multiple of the rank count)");
    return {shard_rank_ * rows / shard_ranks_, rows / shard_ranks_};
  }

 private:
  int64_t shard_rank_ = 0, shard_ranks_ = 1;
};

}  // namespace qforge::trainers
