#include "autograd/kernels/elementwise.h"

#include <vector>

namespace qforge::autograd::kernels {

BroadcastPlan plan_broadcast(const Shape& a, const Shape& b, const Shape& out) {
  const Shape pa = a.padded_to(out.ndim()), pb = b.padded_to(out.ndim());
  // Merge neighbouring output dimensions in which each input either spans or broadcasts alike:
  // [B,T,C] + [C] becomes [B*T, C], so the inner loop runs over long contiguous rows.
  struct Run {
    int64_t size;
    bool spans_a, spans_b;
  };
  std::vector<Run> runs;
  for (int i = 0; i < out.ndim(); ++i) {
    if (out[i] == 1) continue;
    const Run run{out[i], pa[i] != 1, pb[i] != 1};
    if (!runs.empty() && runs.back().spans_a == run.spans_a && runs.back().spans_b == run.spans_b) {
      runs.back().size *= run.size;
    } else {
      runs.push_back(run);
    }
  }
  BroadcastPlan plan;
  int64_t step_a = 1, step_b = 1;
  for (int r = static_cast<int>(runs.size()) - 1, slot = 3; r >= 0; --r, --slot) {
    plan.dims[slot] = runs[r].size;
    plan.stride_a[slot] = runs[r].spans_a ? step_a : 0;
    plan.stride_b[slot] = runs[r].spans_b ? step_b : 0;
    if (runs[r].spans_a) step_a *= runs[r].size;
    if (runs[r].spans_b) step_b *= runs[r].size;
  }
  return plan;
}

Tensor add(const Tensor& a, const Tensor& b) {
  return map_binary(a, b, [](float x, float y) { return x + y; });
}

Tensor scale(const Tensor& x, float s) {
  return map_unary(x, [s](float v) { return v * s; });
}

}  // namespace qforge::autograd::kernels
