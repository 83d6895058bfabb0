#pragma once
// Helpers shared by op_rms_norm.cpp and op_layer_norm.cpp (internal; include from .cpp files only).
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace qforge::autograd::norm {

// Per-parameter gradients (dw, db) are summed over a fixed number of row chunks, independent of
// the thread count, and the chunk buffers are added in chunk order: bitwise identical results
// for any number of threads.
inline constexpr int64_t kMaxChunks = 64;

inline void check_param(const Variable& x, const Variable& param, const char* op, const char* what) {
  if (x.ndim() < 1) throw std::invalid_argument(std::string(op) + ": x must have at least 1 dimension, got []");
  const int64_t d = x.dim(-1);
  if (param.ndim() != 1 || param.dim(0) != d) {
    throw std::invalid_argument(std::string(op) + ": " + what + " shape " + param.shape().to_string() + " != [" +
                                std::to_string(d) + "] (last dim of x " + x.shape().to_string() + ")");
  }
}

// Adds the chunk partials [chunks, d] in chunk order.
inline Tensor reduce_chunks(const std::vector<float>& partial, int64_t chunks, int64_t d) {
  Tensor out = Tensor::zeros(Shape{d});
  float* o = out.data();
  for (int64_t c = 0; c < chunks; ++c) {
    const float* p = partial.data() + c * d;
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) o[j] += p[j];
  }
  return out;
}

}  // namespace qforge::autograd::norm
