#pragma once
// A PackedWeight that stores plain floats (tests only): packed Linears built on it must compute
// what a dense Linear with the same weight computes.
#include <cstring>
#include <string>
#include <utility>

#include "autograd/packed_weight.h"
#include "autograd/tensor.h"

namespace qforge::testing {

class FloatRowsWeight : public autograd::PackedWeight {
 public:
  explicit FloatRowsWeight(autograd::Tensor w) : w_(std::move(w)) {}
  int64_t rows() const override { return w_.dim(0); }
  int64_t cols() const override { return w_.dim(1); }
  std::string format() const override { return "f32rows"; }
  int64_t storage_bytes() const override { return w_.numel() * 4; }
  void dequantize_rows(int64_t r0, int64_t r1, float* out) const override {
    std::memcpy(out, w_.data() + r0 * cols(), static_cast<size_t>((r1 - r0) * cols()) * sizeof(float));
  }

 private:
  autograd::Tensor w_;
};

}  // namespace qforge::testing
