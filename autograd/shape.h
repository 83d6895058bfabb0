#pragma once
// Shape of a qforge tensor: up to four dimensions, row-major, no strides (tensors are contiguous).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace qforge::autograd {

inline constexpr int kMaxDims = 4;

class Shape {
 public:
  Shape() = default;  // zero dimensions: a scalar with one element
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int ndim() const { return ndim_; }
  int64_t operator[](int axis) const { return dims_[axis]; }
  int64_t& operator[](int axis) { return dims_[axis]; }
  int64_t numel() const;
  // Dimension `axis`, where negative axes count from the end (-1 is the last).
  int64_t dim(int axis) const;
  // Resolves a possibly negative axis to 0..ndim-1; throws naming `op` when out of range.
  int normalize_axis(int axis, const char* op) const;
  // The same elements seen with `ndim` dimensions, padded with leading ones (ndim >= this->ndim()).
  Shape padded_to(int ndim) const;
  std::vector<int64_t> to_vector() const { return {dims_.begin(), dims_.begin() + ndim_}; }
  std::string to_string() const;  // e.g. "[2, 3]"

  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + ndim_; }
  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }

 private:
  void set(const int64_t* dims, size_t count);
  std::array<int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

// numpy broadcasting: dimensions align from the right and each pair must be equal or contain a 1.
// Throws std::invalid_argument naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace qforge::autograd
