#pragma once
// Tensor: float32, contiguous, row-major storage with up to four dimensions.
// A Tensor is a cheap handle: copies share storage, so kernels write only tensors they created.
#include <cstdint>
#include <memory>
#include <vector>

#include "autograd/shape.h"

namespace qforge::autograd {

class Tensor {
 public:
  Tensor() = default;  // undefined: no storage
  // Uninitialised storage for `shape`.
  explicit Tensor(const Shape& shape);

  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  static Tensor scalar(float value) { return full(Shape{}, value); }
  // Standard normal / uniform samples from a seeded generator: the same seed gives the same tensor.
  static Tensor randn(const Shape& shape, uint64_t seed, float stddev = 1.0f);
  static Tensor uniform(const Shape& shape, float low, float high, uint64_t seed);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t dim(int axis) const { return shape_.dim(axis); }
  int64_t numel() const { return shape_.numel(); }
  float* data() { return storage_.get(); }
  const float* data() const { return storage_.get(); }

  // Same storage seen with another shape of equal element count (one dimension may be -1).
  Tensor reshaped(const std::vector<int64_t>& dims) const;
  Tensor clone() const;
  float item() const;  // the only element of a one-element tensor
  std::vector<float> to_vector() const { return {data(), data() + numel()}; }

 private:
  std::shared_ptr<float[]> storage_;
  Shape shape_;
};

// Integer indices (targets, token ids, gather indices). Values are not range-checked here;
// every op that reads them checks against the dimension it indexes and names the bad value.
class IndexTensor {
 public:
  IndexTensor() = default;
  IndexTensor(const Shape& shape, std::vector<int64_t> values);

  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_.numel(); }
  const int64_t* data() const { return values_->data(); }

 private:
  Shape shape_;
  std::shared_ptr<const std::vector<int64_t>> values_;
};

// Resolves one -1 in `dims` against `numel`; throws naming `op` when sizes disagree.
Shape infer_shape(const std::vector<int64_t>& dims, int64_t numel, const char* op);

}  // namespace qforge::autograd
