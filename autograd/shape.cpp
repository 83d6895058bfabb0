#include "autograd/shape.h"

#include <stdexcept>

namespace qforge::autograd {

Shape::Shape(std::initializer_list<int64_t> dims) { set(dims.begin(), dims.size()); }

Shape::Shape(const std::vector<int64_t>& dims) { set(dims.data(), dims.size()); }

void Shape::set(const int64_t* dims, size_t count) {
  if (count > static_cast<size_t>(kMaxDims)) {
    throw std::invalid_argument("shape: " + std::to_string(count) + " dimensions, at most " +
                                std::to_string(kMaxDims) + " are supported");
  }
  ndim_ = static_cast<int>(count);
  int64_t numel = 1;
  for (size_t i = 0; i < count; ++i) {
    if (dims[i] < 0) throw std::invalid_argument("shape: negative dimension " + std::to_string(dims[i]));
    // numel() multiplies the dims in int64: shapes read from files (checkpoints) could overflow it.
    if (__builtin_mul_overflow(numel, dims[i], &numel))
      throw std::invalid_argument("shape: " + std::to_string(count) + " dimensions whose product overflows int64");
    dims_[i] = dims[i];
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[i];
  return n;
}

int Shape::normalize_axis(int axis, const char* op) const {
  const int resolved = axis < 0 ? axis + ndim_ : axis;
  if (resolved < 0 || resolved >= ndim_) {
    throw std::invalid_argument(std::string(op) + ": axis " + std::to_string(axis) +
                                " out of range for shape " + to_string());
  }
  return resolved;
}

int64_t Shape::dim(int axis) const { return dims_[normalize_axis(axis, "dim")]; }

Shape Shape::padded_to(int ndim) const {
  Shape padded;
  padded.ndim_ = ndim;
  const int lead = ndim - ndim_;
  for (int i = 0; i < ndim; ++i) padded.dims_[i] = i < lead ? 1 : dims_[i - lead];
  return padded;
}

std::string Shape::to_string() const {
  std::string text = "[";
  for (int i = 0; i < ndim_; ++i) {
    if (i) text += ", ";
    text += std::to_string(dims_[i]);
  }
  return text + "]";
}

bool Shape::operator==(const Shape& other) const {
  if (ndim_ != other.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (dims_[i] != other.dims_[i]) return false;
  return true;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int ndim = std::max(a.ndim(), b.ndim());
  const Shape pa = a.padded_to(ndim), pb = b.padded_to(ndim);
  std::vector<int64_t> dims(ndim);
  for (int i = 0; i < ndim; ++i) {
    if (pa[i] == pb[i] || pb[i] == 1) {
      dims[i] = pa[i];
    } else if (pa[i] == 1) {
      dims[i] = pb[i];
    } else {
      throw std::invalid_argument(std::string(op) + ": shapes " + a.to_string() + " and " + b.to_string() +
                                  " do not broadcast (dimension " + std::to_string(i) + ")");
    }
  }
  return Shape(dims);
}

}  // namespace qforge::autograd
