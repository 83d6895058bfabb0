// permute and transpose: out[i_0, ..., i_n] = x[i at positions order^-1]; the backward permutes
// the gradient by the inverse order. The kernel first drops size-1 axes and merges runs of axes
// that stay adjacent, so e.g. [B, T, H, D] -> [B, H, T, D] (attention heads) becomes contiguous
// row copies of D floats, and a last-axis transpose becomes batched 2-D tiled transposes.
#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

// Merged geometry padded to 4 axes (leading ones): out axis k has size dims[k] and steps
// in_stride[k] through the input.
struct PermutePlan {
  int ndim = 0;  // merged axes before padding
  std::array<int64_t, 4> dims{1, 1, 1, 1};
  std::array<int64_t, 4> in_stride{0, 0, 0, 0};
};

PermutePlan plan_permute(const Shape& shape, const std::vector<int>& order) {
  // Keep only input axes longer than one, renumbered in input order.
  std::array<int, kMaxDims> rank{};
  std::vector<int64_t> kept_dims;
  for (int a = 0; a < shape.ndim(); ++a) {
    rank[a] = static_cast<int>(kept_dims.size());
    if (shape[a] != 1) kept_dims.push_back(shape[a]);
  }
  std::vector<int> q;
  for (int a : order)
    if (shape[a] != 1) q.push_back(rank[a]);
  // Group output axes whose input axes are consecutive: each group is one input block.
  std::vector<std::pair<int, int>> groups;  // [first, last] kept input axis
  for (int a : q) {
    if (!groups.empty() && groups.back().second + 1 == a) groups.back().second = a;
    else groups.emplace_back(a, a);
  }
  std::vector<int64_t> stride(kept_dims.size() + 1, 1);
  for (int a = static_cast<int>(kept_dims.size()) - 1; a >= 0; --a) stride[a] = stride[a + 1] * kept_dims[a];
  PermutePlan p;
  p.ndim = static_cast<int>(groups.size());
  const int lead = 4 - p.ndim;
  for (int k = 0; k < p.ndim; ++k) {
    const auto [first, last] = groups[k];
    p.dims[lead + k] = stride[first] / stride[last + 1];
    p.in_stride[lead + k] = stride[last + 1];
  }
  return p;
}

// Output's last axis is also contiguous in the input: copy rows.
void permute_rows(const float* in, float* out, const PermutePlan& p) {
  const auto& d = p.dims;
  const auto& s = p.in_stride;
  const int64_t len = d[3];
#pragma omp parallel for collapse(3) schedule(static) if (d[0] * d[1] * d[2] * len > kernels::kParallelThreshold)
  for (int64_t i0 = 0; i0 < d[0]; ++i0)
    for (int64_t i1 = 0; i1 < d[1]; ++i1)
      for (int64_t i2 = 0; i2 < d[2]; ++i2) {
        const float* src = in + i0 * s[0] + i1 * s[1] + i2 * s[2];
        std::memcpy(out + ((i0 * d[1] + i1) * d[2] + i2) * len, src, static_cast<size_t>(len) * sizeof(float));
      }
}

// Output's last axis is strided in the input: batched 2-D transposes in cache-sized tiles,
// between out axis j (unit input stride) and out axis 3 (contiguous output).
void permute_tiled(const float* in, float* out, const PermutePlan& p) {
  constexpr int64_t kTile = 32;
  const auto& d = p.dims;
  const auto& s = p.in_stride;
  int j = 0;
  while (s[j] != 1) ++j;
  const int u = j == 0 ? 1 : 0, v = j == 2 ? 1 : 2;  // the two batch axes among 0..2
  std::array<int64_t, 4> out_stride{d[1] * d[2] * d[3], d[2] * d[3], d[3], 1};
  const int64_t tiles_a = (d[j] + kTile - 1) / kTile, tiles_b = (d[3] + kTile - 1) / kTile;
  const int64_t tasks = d[u] * d[v] * tiles_a * tiles_b;
#pragma omp parallel for schedule(static) if (d[0] * d[1] * d[2] * d[3] > kernels::kParallelThreshold)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t tb = task % tiles_b, ta = (task / tiles_b) % tiles_a;
    const int64_t bv = (task / (tiles_b * tiles_a)) % d[v], bu = task / (tiles_b * tiles_a * d[v]);
    const float* src = in + bu * s[u] + bv * s[v];
    float* dst = out + bu * out_stride[u] + bv * out_stride[v];
    const int64_t a_end = std::min(d[j], (ta + 1) * kTile), b_end = std::min(d[3], (tb + 1) * kTile);
    for (int64_t a = ta * kTile; a < a_end; ++a) {
      float* row = dst + a * out_stride[j];
      for (int64_t b = tb * kTile; b < b_end; ++b) row[b] = src[a + b * s[3]];
    }
  }
}

// `order` must be a validated permutation of x's axes.
Tensor permute_tensor(const Tensor& x, const std::vector<int>& order) {
  std::vector<int64_t> dims;
  for (int a : order) dims.push_back(x.shape()[a]);
  const PermutePlan plan = plan_permute(x.shape(), order);
  // At most one moving block: memory order is unchanged, so the result is a view.
  if (plan.ndim <= 1 || x.numel() == 0) return x.reshaped(dims);
  Tensor out{Shape(dims)};
  if (plan.in_stride[3] == 1) permute_rows(x.data(), out.data(), plan);
  else permute_tiled(x.data(), out.data(), plan);
  return out;
}

std::string order_text(const std::vector<int>& order) {
  std::string text;
  for (int a : order) text += (text.empty() ? "" : ", ") + std::to_string(a);
  return "[" + text + "]";
}

Variable permute_variable(const Variable& x, const std::vector<int>& order, const char* name) {
  std::vector<int> inverse(order.size());
  for (size_t k = 0; k < order.size(); ++k) inverse[order[k]] = static_cast<int>(k);
  auto backward = [inverse](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(permute_tensor(g, inverse));
  };
  return Variable(permute_tensor(x.data(), order), {x}, backward, name);
}

}  // namespace

Variable permute(const Variable& x, const std::vector<int>& order) {
  const int n = x.ndim();
  std::vector<int> resolved;
  std::vector<bool> seen(n, false);
  bool valid = static_cast<int>(order.size()) == n;
  for (int a : order) {
    if (!valid) break;
    const int r = a < 0 ? a + n : a;
    valid = r >= 0 && r < n && !seen[r];
    if (valid) seen[r] = true;
    resolved.push_back(r);
  }
  if (!valid) {
    throw std::invalid_argument("permute: order " + order_text(order) + " is not a permutation of the " +
                                std::to_string(n) + " axes of shape " + x.shape().to_string());
  }
  return permute_variable(x, resolved, "permute");
}

Variable transpose(const Variable& x, int axis0, int axis1) {
  const int a = x.shape().normalize_axis(axis0, "transpose");
  const int b = x.shape().normalize_axis(axis1, "transpose");
  std::vector<int> order(x.ndim());
  for (int k = 0; k < x.ndim(); ++k) order[k] = k;
  std::swap(order[a], order[b]);
  return permute_variable(x, order, "transpose");
}

}  // namespace qforge::autograd
