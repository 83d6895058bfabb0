#include "data/batch_iterator.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "data/rng.h"

namespace qforge::data {

using autograd::IndexTensor;
using autograd::Shape;
using autograd::Tensor;

ShuffledBatches::ShuffledBatches(int64_t num_examples, const BatchOptions& options)
    : num_examples_(num_examples), options_(options) {
  if (num_examples < 0) {
    throw std::invalid_argument("ShuffledBatches: num_examples must be >= 0, got " + std::to_string(num_examples));
  }
  if (options.batch_size <= 0) {
    throw std::invalid_argument("ShuffledBatches: batch_size must be > 0, got " + std::to_string(options.batch_size));
  }
}

int64_t ShuffledBatches::num_batches() const {
  const int64_t full = num_examples_ / options_.batch_size;
  const bool partial = num_examples_ % options_.batch_size != 0;
  return full + (partial && !options_.drop_last ? 1 : 0);
}

const std::vector<int64_t>& ShuffledBatches::epoch_order(int64_t epoch) {
  if (epoch < 0) throw std::invalid_argument("ShuffledBatches: epoch must be >= 0, got " + std::to_string(epoch));
  if (epoch == cached_epoch_) return order_;
  order_.resize(static_cast<size_t>(num_examples_));
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (options_.shuffle) {
    // Fisher-Yates (Knuth, TAOCP vol. 2, Algorithm 3.4.2P) with the epoch as the stream.
    Rng rng(options_.seed, static_cast<uint64_t>(epoch));
    for (int64_t i = num_examples_ - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(i) + 1));
      std::swap(order_[static_cast<size_t>(i)], order_[static_cast<size_t>(j)]);
    }
  }
  cached_epoch_ = epoch;
  return order_;
}

std::vector<int64_t> ShuffledBatches::batch_indices(int64_t epoch, int64_t batch) {
  if (batch < 0 || batch >= num_batches()) {
    throw std::out_of_range("ShuffledBatches: batch " + std::to_string(batch) + " out of range [0, " +
                            std::to_string(num_batches()) + ")");
  }
  const std::vector<int64_t>& order = epoch_order(epoch);
  const int64_t begin = batch * options_.batch_size;
  const int64_t end = std::min(begin + options_.batch_size, num_examples_);
  return {order.begin() + begin, order.begin() + end};
}

ImageBatch gather_batch(const ImageDataset& dataset, const std::vector<int64_t>& indices) {
  const auto count = static_cast<int64_t>(indices.size());
  const int64_t n = dataset.size();
  const int64_t row = n == 0 ? 0 : dataset.images.numel() / n;
  Shape shape = dataset.images.shape();
  shape[0] = count;
  Tensor images(shape);
  std::vector<int64_t> labels(indices.size());
  for (int64_t i = 0; i < count; ++i) {
    const int64_t source = indices[static_cast<size_t>(i)];
    if (source < 0 || source >= n) {
      throw std::out_of_range("gather_batch: index " + std::to_string(source) + " outside a data set of " +
                              std::to_string(n) + " examples");
    }
    std::memcpy(images.data() + i * row, dataset.images.data() + source * row, static_cast<size_t>(row) * sizeof(float));
    labels[static_cast<size_t>(i)] = dataset.labels.data()[source];
  }
  return {images, IndexTensor(Shape{count}, std::move(labels))};
}

}  // namespace qforge::data
