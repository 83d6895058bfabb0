// slice: elements [start, end) along one axis with Python's rules (negative bounds count from the
// end, out-of-range bounds clamp, end <= start gives an empty result). Seen as [outer, axis, inner],
// each outer block is one contiguous run, so forward copies runs and backward writes the gradient
// runs into a zero tensor of the input's shape.
#include <algorithm>
#include <cstring>

#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

int64_t clamp_bound(int64_t bound, int64_t size) {
  if (bound < 0) bound += size;
  return std::clamp<int64_t>(bound, 0, size);
}

// dst[o, 0:dst_len] = src[o, 0:src_len] runs of floats, for o < outer.
void copy_runs(const float* src, int64_t src_len, float* dst, int64_t dst_len, int64_t outer, int64_t run) {
#pragma omp parallel for schedule(static) if (outer * run > kernels::kParallelThreshold && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    std::memcpy(dst + o * dst_len, src + o * src_len, static_cast<size_t>(run) * sizeof(float));
  }
}

}  // namespace

Variable slice(const Variable& x, int axis, int64_t start, int64_t end) {
  const int a = x.shape().normalize_axis(axis, "slice");
  const int64_t size = x.shape()[a];
  const int64_t first = clamp_bound(start, size), last = std::max(first, clamp_bound(end, size));
  std::vector<int64_t> dims = x.shape().to_vector();
  dims[a] = last - first;
  const kernels::AxisSplit s = kernels::split_around(x.shape(), a, a);
  const int64_t in_run = s.reduced * s.inner, out_run = (last - first) * s.inner, offset = first * s.inner;
  Tensor out{Shape(dims)};
  if (out.numel() > 0) copy_runs(x.data().data() + offset, in_run, out.data(), out_run, s.outer, out_run);
  auto backward = [s, in_run, out_run, offset](std::vector<Variable>& in, const Tensor& g) {
    Tensor dx = Tensor::zeros(in[0].shape());
    if (g.numel() > 0) copy_runs(g.data(), out_run, dx.data() + offset, in_run, s.outer, out_run);
    in[0].add_grad(dx);
  };
  return Variable(out, {x}, backward, "slice");
}

}  // namespace qforge::autograd
