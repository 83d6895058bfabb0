#pragma once
// Shuffled mini-batches over a data set. The order of epoch e is a pure function of
// (seed, e): the same seed replays the same batches, and each epoch is a fresh permutation,
// so a run resumed at epoch e sees exactly what the uninterrupted run would have seen.
#include <cstdint>
#include <vector>

#include "autograd/tensor.h"
#include "data/fashion_mnist.h"

namespace qforge::data {

struct BatchOptions {
  int64_t batch_size = 64;
  uint64_t seed = 0;
  bool shuffle = true;     // false: examples in file order every epoch
  bool drop_last = false;  // drop the final batch when it is smaller than batch_size
};

// Example indices per batch; independent of what the examples are.
class ShuffledBatches {
 public:
  ShuffledBatches(int64_t num_examples, const BatchOptions& options);

  int64_t num_batches() const;
  // The permutation of all examples for `epoch` (cached for the last epoch asked).
  const std::vector<int64_t>& epoch_order(int64_t epoch);
  // Indices of batch `batch` (0 <= batch < num_batches()) of `epoch`.
  std::vector<int64_t> batch_indices(int64_t epoch, int64_t batch);

 private:
  int64_t num_examples_;
  BatchOptions options_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> order_;
};

struct ImageBatch {
  autograd::Tensor images;       // [b, ...] rows of the data set's images
  autograd::IndexTensor labels;  // [b]
};

// Copies the examples `indices` of `dataset` into one batch.
ImageBatch gather_batch(const ImageDataset& dataset, const std::vector<int64_t>& indices);

// ShuffledBatches bound to an image data set:
//   ImageBatches batches(train, {.batch_size = 128, .seed = 1});
//   for (int64_t i = 0; i < batches.num_batches(); ++i) { ImageBatch b = batches.batch(epoch, i); ... }
class ImageBatches {
 public:
  ImageBatches(const ImageDataset& dataset, const BatchOptions& options)
      : dataset_(dataset), batches_(dataset.size(), options) {}
  int64_t num_batches() const { return batches_.num_batches(); }
  ImageBatch batch(int64_t epoch, int64_t index) { return gather_batch(dataset_, batches_.batch_indices(epoch, index)); }

 private:
  ImageDataset dataset_;  // shares storage with the caller's tensors
  ShuffledBatches batches_;
};

}  // namespace qforge::data
