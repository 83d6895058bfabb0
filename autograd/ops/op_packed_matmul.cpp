// y = x W^T with W frozen in a packed format (autograd/packed_weight.h). The weight is decoded
// kTileRows rows at a time into a scratch buffer and multiplied at once, so the memory held for W
// is its packed size plus one tile, never [out, in] floats (QLoRA, Dettmers et al. 2023, §3:
// "dequantize the storage data type to the computation data type to perform the forward and
// backward pass"). Only x receives a gradient: dx = dy W, computed over the same tiles.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/kernels/gemm.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

constexpr int64_t kTileRows = 128;

// y[n, out] = x[n, in] W^T
void packed_forward(const PackedWeight& w, const float* x, int64_t n, float* y) {
  const int64_t in = w.cols(), out = w.rows();
  std::vector<float> tile(static_cast<size_t>(std::min(kTileRows, out) * in));
  for (int64_t r0 = 0; r0 < out; r0 += kTileRows) {
    const int64_t r1 = std::min(out, r0 + kTileRows);
    w.dequantize_rows(r0, r1, tile.data());
    kernels::gemm(false, true, n, r1 - r0, in, 1.0f, x, in, tile.data(), in, 0.0f, y + r0, out);
  }
}

// dx[n, in] = dy[n, out] W
void packed_input_gradient(const PackedWeight& w, const float* dy, int64_t n, float* dx) {
  const int64_t in = w.cols(), out = w.rows();
  std::vector<float> tile(static_cast<size_t>(std::min(kTileRows, out) * in));
  for (int64_t r0 = 0; r0 < out; r0 += kTileRows) {
    const int64_t r1 = std::min(out, r0 + kTileRows);
    w.dequantize_rows(r0, r1, tile.data());
    kernels::gemm(false, false, n, in, r1 - r0, 1.0f, dy + r0, out, tile.data(), in, r0 == 0 ? 0.0f : 1.0f, dx, in);
  }
}

}  // namespace

Variable packed_matmul(const Variable& x, const PackedWeightPtr& weight) {
  if (!weight) throw std::invalid_argument("packed_matmul: weight is null");
  if (x.ndim() < 1 || x.dim(-1) != weight->cols()) {
    throw std::invalid_argument("packed_matmul: input " + x.shape().to_string() + " last dim != weight cols " +
                                std::to_string(weight->cols()) + " (" + weight->format() + " weight [" +
                                std::to_string(weight->rows()) + ", " + std::to_string(weight->cols()) + "])");
  }
  std::vector<int64_t> dims = x.shape().to_vector();
  dims.back() = weight->rows();
  const int64_t n = x.numel() / weight->cols();
  Tensor y{Shape(dims)};
  packed_forward(*weight, x.data().data(), n, y.data());
  auto backward = [weight, n](std::vector<Variable>& in, const Tensor& g) {
    if (!in[0].requires_grad()) return;
    Tensor dx{in[0].shape()};
    packed_input_gradient(*weight, g.data(), n, dx.data());
    in[0].add_grad(dx);
  };
  return Variable(y, {x}, backward, "packed_matmul");
}

}  // namespace qforge::autograd
