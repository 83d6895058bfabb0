#include "autograd/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "autograd/allocator.h"

namespace qforge::autograd {

Tensor::Tensor(const Shape& shape) : storage_(allocate_floats(shape.numel())), shape_(shape) {}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t(shape);
  std::fill_n(t.data(), t.numel(), value);
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  if (static_cast<int64_t>(values.size()) != shape.numel()) {
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) + " values for shape " +
                                shape.to_string() + " (" + std::to_string(shape.numel()) + " elements)");
  }
  Tensor t(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::randn(const Shape& shape, uint64_t seed, float stddev) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = normal(generator);
  return t;
}

Tensor Tensor::uniform(const Shape& shape, float low, float high, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<float> dist(low, high);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = dist(generator);
  return t;
}

Shape infer_shape(const std::vector<int64_t>& dims, int64_t numel, const char* op) {
  std::vector<int64_t> resolved = dims;
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (inferred >= 0) throw std::invalid_argument(std::string(op) + ": more than one -1 in the new shape");
      inferred = static_cast<int>(i);
    } else {
      known *= dims[i];
    }
  }
  if (inferred >= 0 && known != 0 && numel % known == 0) resolved[inferred] = numel / known;
  int64_t product = 1;
  std::string text;
  for (int64_t d : resolved) {
    product *= d;
    text += (text.empty() ? "" : ", ") + std::to_string(d);
  }
  if (product != numel || (inferred >= 0 && known == 0)) {
    throw std::invalid_argument(std::string(op) + ": cannot view " + std::to_string(numel) + " elements as [" +
                                text + "]");
  }
  return Shape(resolved);
}

Tensor Tensor::reshaped(const std::vector<int64_t>& dims) const {
  Tensor view = *this;
  view.shape_ = infer_shape(dims, numel(), "reshape");
  return view;
}

Tensor Tensor::clone() const {
  Tensor copy(shape_);
  std::copy_n(data(), numel(), copy.data());
  return copy;
}

float Tensor::item() const {
  if (numel() != 1) throw std::invalid_argument("item: tensor of shape " + shape_.to_string() + " is not one element");
  return data()[0];
}

IndexTensor::IndexTensor(const Shape& shape, std::vector<int64_t> values)
    : shape_(shape), values_(std::make_shared<const std::vector<int64_t>>(std::move(values))) {
  if (static_cast<int64_t>(values_->size()) != shape.numel()) {
    throw std::invalid_argument("IndexTensor: " + std::to_string(values_->size()) + " values for shape " +
                                shape.to_string());
  }
}

}  // namespace qforge::autograd
