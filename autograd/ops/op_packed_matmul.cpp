// y = x W^T with W frozen in a packed format (autograd/packed_weight.h). The weight is decoded a tile
// of rows at a time into a per-thread scratch buffer and multiplied at once, so the memory held for W
// is its packed size plus one tile per thread, never [out, in] floats (QLoRA, Dettmers et al. 2023,
// §3: "dequantize the storage data type to the computation data type to perform the forward and
// backward pass"). Only x receives a gradient: dx = dy W, computed over the same tiles.
//
// Parallelism: the threads take whole tiles (decode + a single-threaded GEMM each; kernels::gemm runs
// serially inside a parallel region), so decoding is parallel too and no thread waits on another
// between decode and multiply. Forward tiles write disjoint columns of y; backward tiles all add into
// dx, so each thread sums its tiles into its own buffer (thread 0 into dx itself) and the buffers are
// added in thread order at the end: for a fixed thread count the result is deterministic.
#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/kernels/gemm.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

// Tiles of at most this many rows. Each tile costs one re-pack of the shared operand (x forward, a C
// read-modify-write backward), so tiles are as large as balance allows: ~256 rows x 1024 cols is
// 1 MiB, the private L2 of a Zen 5 core, where the GEMM's B packing reads it right after decoding.
constexpr int64_t kMaxTileRows = 256;
constexpr int64_t kMaxTileFloats = 768 * 1024;
constexpr int64_t kRowQuantum = 16;

struct Tiling {
  int64_t rows;   // rows per tile (the last one may be shorter)
  int64_t count;  // number of tiles
};

// A multiple of `threads` tiles of at most kMaxTileRows rows, so every thread gets the same work.
Tiling choose_tiling(int64_t out, int64_t in, int threads) {
  const int64_t cap_rows = std::clamp<int64_t>(kMaxTileFloats / std::max<int64_t>(in, 1) / kRowQuantum * kRowQuantum,
                                               kRowQuantum, kMaxTileRows);
  const int64_t per_thread = (out + threads * cap_rows - 1) / (threads * cap_rows);
  const int64_t tiles = std::max<int64_t>(1, per_thread * threads);
  int64_t rows = (out + tiles - 1) / tiles;
  rows = std::min(out, (rows + kRowQuantum - 1) / kRowQuantum * kRowQuantum);
  rows = std::max<int64_t>(rows, 1);
  return {rows, (out + rows - 1) / rows};
}

int thread_count(int64_t tiles) {
  const int available = omp_in_parallel() ? 1 : omp_get_max_threads();
  return static_cast<int>(std::clamp<int64_t>(tiles, 1, available));
}

// Grow-only per-thread scratch, so steady-state steps never allocate.
float* scratch(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(static_cast<size_t>(floats));
  return buffer.data();
}

// y[n, out] = x[n, in] W^T
void packed_forward(const PackedWeight& w, const float* x, int64_t n, float* y) {
  const int64_t in = w.cols(), out = w.rows();
  if (out == 0 || n == 0) return;
  const int available = omp_in_parallel() ? 1 : omp_get_max_threads();
  const Tiling t = choose_tiling(out, in, available);
#pragma omp parallel for schedule(static) num_threads(thread_count(t.count))
  for (int64_t i = 0; i < t.count; ++i) {
    const int64_t r0 = i * t.rows, r1 = std::min(out, r0 + t.rows);
    float* tile = scratch(t.rows * in);
    w.dequantize_rows(r0, r1, tile);
    kernels::gemm(false, true, n, r1 - r0, in, 1.0f, x, in, tile, in, 0.0f, y + r0, out);
  }
}

// dx[n, in] = dy[n, out] W
void packed_input_gradient(const PackedWeight& w, const float* dy, int64_t n, float* dx) {
  const int64_t in = w.cols(), out = w.rows();
  if (n == 0 || in == 0) return;
  if (out == 0) {
    std::fill(dx, dx + n * in, 0.0f);
    return;
  }
  const int available = omp_in_parallel() ? 1 : omp_get_max_threads();
  const Tiling t = choose_tiling(out, in, available);
  const int threads = thread_count(t.count);
  std::vector<std::vector<float>> partial(static_cast<size_t>(threads - 1));
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    float* acc = dx;
    if (tid > 0) {
      partial[static_cast<size_t>(tid - 1)].resize(static_cast<size_t>(n * in));
      acc = partial[static_cast<size_t>(tid - 1)].data();
    }
    // Contiguous tile ranges per thread (static, so the sum order depends only on the thread count).
    const int64_t i0 = t.count * tid / nth, i1 = t.count * (tid + 1) / nth;
    float* tile = scratch(t.rows * in);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t r0 = i * t.rows, r1 = std::min(out, r0 + t.rows);
      w.dequantize_rows(r0, r1, tile);
      kernels::gemm(false, false, n, in, r1 - r0, 1.0f, dy + r0, out, tile, in, i == i0 ? 0.0f : 1.0f, acc, in);
    }
    if (i0 == i1) std::fill(acc, acc + n * in, 0.0f);
#pragma omp barrier
    // Reduce: each thread adds every partial buffer into its own slice of dx, in thread order.
    const int64_t total = n * in, e0 = total * tid / nth, e1 = total * (tid + 1) / nth;
    for (const std::vector<float>& p : partial) {
      for (int64_t e = e0; e < e1; ++e) dx[e] += p[static_cast<size_t>(e)];
    }
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
  int64_t n = 1;  // rows of x (not numel / cols: cols may be 0)
  for (size_t d = 0; d + 1 < dims.size(); ++d) n *= dims[d];
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
