#pragma once
// The OpenMP loops of the FakeQuant op over a tensor seen as outer x count x inner (ParamLayout):
// element i uses parameter (i / inner) % count. Two traversals:
//   - segments: runs of elements sharing one parameter (per tensor, per group, per channel with a
//     long inner run such as axis 0 of a weight), each run vectorized with its parameters held in
//     registers; long runs are cut into pieces so a per-tensor scale still uses every thread;
//   - rows: when the run is short (per channel on the last axis: inner = 1) and there are many
//     rows, one row of count * inner elements with the parameters expanded per position.
// Reductions for the scale / zero-point gradients go through per-segment (or per-chunk) partial
// sums in double with fixed boundaries that do not depend on the thread count, then are added in
// a fixed order: deterministic, no atomics.
// Internal header: include it from fakequant .cpp files only.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "autograd/kernels/elementwise.h"
#include "fakequant/param_layout.h"

namespace qforge::fakequant::kernels {

// Per-parameter values the loops read (index = parameter).
struct GridParams {
  std::vector<float> scale;       // effective scale (round_scale applied); 1 for FP16 / BF16
  std::vector<float> inv_scale;   // 1 / scale
  std::vector<float> zero_point;  // integer-valued zero point, 0 for symmetric and float formats
  std::vector<float> low, high;   // grid_bounds in units of the scale
};

// Parameter values of one run: a single value broadcast over the run (segments) or one value per
// position (rows); `at` reads either.
inline float at(float value, int64_t) { return value; }
inline float at(const float* values, int64_t j) { return values[j]; }

template <bool kMask, class Element, class P>
void forward_span(const Element& element, const float* x, float* out, uint8_t* mask, int64_t n, P s, P inv_s, P lo,
                  P hi) {
  const Element e = element;  // a local copy: its constants stay in registers (no alias checks)
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    bool inside;
    out[j] = e.forward(x[j], at(s, j), at(inv_s, j), at(lo, j), at(hi, j), inside);
    if constexpr (kMask) mask[j] = inside;
  }
}

// Elements per parallel task of the segment traversal.
inline constexpr int64_t kTaskElements = 16384;
// Runs shorter than this with more than one row use the row traversal.
inline constexpr int64_t kRowTraversalMaxInner = 64;

struct Traversal {
  int64_t numel = 0, inner = 1, count = 1, outer = 0;
  bool by_rows = false;
  int64_t pieces_per_block = 1;  // > 1: runs longer than a task are cut into pieces
  int64_t piece_length = 0;
  int64_t blocks_per_task = 1;
  int64_t tasks = 0;
  // Partial-sum slots of the segment traversal: one per piece or one per block.
  int64_t slots() const { return pieces_per_block > 1 ? tasks : numel / inner; }
  int64_t slot_parameter(int64_t slot) const { return (pieces_per_block > 1 ? slot / pieces_per_block : slot) % count; }
  bool parallel() const { return numel > autograd::kernels::kParallelThreshold; }
};

inline Traversal plan_traversal(const ParamLayout& layout, int64_t numel) {
  Traversal t;
  t.numel = numel;
  t.inner = layout.inner;
  t.count = layout.count;
  t.outer = layout.outer(numel);
  if (numel == 0) return t;
  t.by_rows = t.outer > 1 && t.inner < kRowTraversalMaxInner;
  const int64_t blocks = numel / t.inner;
  if (t.inner > kTaskElements) {
    t.pieces_per_block = (t.inner + kTaskElements - 1) / kTaskElements;
    t.piece_length = (t.inner + t.pieces_per_block - 1) / t.pieces_per_block;
    t.tasks = blocks * t.pieces_per_block;
  } else {
    t.blocks_per_task = std::max<int64_t>(1, kTaskElements / t.inner);
    t.tasks = (blocks + t.blocks_per_task - 1) / t.blocks_per_task;
  }
  return t;
}

// f(begin, end, parameter, slot) for every run of the segment traversal, in parallel over tasks.
template <class F>
void for_each_segment(const Traversal& t, F f) {
#pragma omp parallel for schedule(static) if (t.parallel())
  for (int64_t task = 0; task < t.tasks; ++task) {
    if (t.pieces_per_block > 1) {
      const int64_t block = task / t.pieces_per_block, piece = task % t.pieces_per_block;
      const int64_t begin = block * t.inner + piece * t.piece_length;
      const int64_t end = std::min(begin + t.piece_length, (block + 1) * t.inner);
      f(begin, end, block % t.count, task);
    } else {
      const int64_t first = task * t.blocks_per_task;
      const int64_t last = std::min(first + t.blocks_per_task, t.numel / t.inner);
      for (int64_t block = first; block < last; ++block) {
        f(block * t.inner, (block + 1) * t.inner, block % t.count, block);
      }
    }
  }
}

// The parameters of one row (count * inner positions) of the row traversal.
struct RowParams {
  std::vector<float> scale, inv_scale, zero_point, low, high;
};

// Row chunks of the row traversal (fixed: the LSQ backward keeps one partial-sum row per chunk) and
// the positions handled per step: a block of positions is run over every row of the chunk before
// the next block, so its parameters (and partial sums) stay in L1.
inline constexpr int64_t kRowChunks = 32;
inline constexpr int64_t kRowBlock = 512;

// f(offset, position, m, chunk) for every row r and position block [position, position + m) of the
// row traversal, offset = r * row length + position; chunks in parallel.
template <class F>
void for_each_row_block(const Traversal& t, F f) {
  const int64_t length = t.count * t.inner, chunks = std::min(t.outer, kRowChunks);
#pragma omp parallel for schedule(static) if (t.parallel())
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t first = t.outer * c / chunks, last = t.outer * (c + 1) / chunks;
    for (int64_t position = 0; position < length; position += kRowBlock) {
      const int64_t m = std::min(kRowBlock, length - position);
      for (int64_t r = first; r < last; ++r) f(r * length + position, position, m, c);
    }
  }
}

inline RowParams expand_row(const GridParams& p, const Traversal& t) {
  RowParams row;
  const int64_t length = t.count * t.inner;
  for (auto* v : {&row.scale, &row.inv_scale, &row.zero_point, &row.low, &row.high}) v->resize(length);
  for (int64_t j = 0; j < length; ++j) {
    const int64_t c = j / t.inner;
    row.scale[j] = p.scale[c];
    row.inv_scale[j] = p.inv_scale[c];
    row.zero_point[j] = p.zero_point[c];
    row.low[j] = p.low[c];
    row.high[j] = p.high[c];
  }
  return row;
}

// out = fake_quant(x) and, when mask != nullptr, mask[i] = element i inside the grid.
template <class Element>
void fake_quant_forward(const Element& element, const GridParams& p, const Traversal& t, const float* x, float* out,
                        uint8_t* mask) {
  if (t.by_rows) {
    const RowParams row = expand_row(p, t);
    for_each_row_block(t, [&](int64_t o, int64_t j, int64_t m, int64_t) {
      const float *s = row.scale.data() + j, *inv = row.inv_scale.data() + j;
      const float *lo = row.low.data() + j, *hi = row.high.data() + j;
      if (mask) forward_span<true>(element, x + o, out + o, mask + o, m, s, inv, lo, hi);
      else forward_span<false>(element, x + o, out + o, nullptr, m, s, inv, lo, hi);
    });
    return;
  }
  for_each_segment(t, [&](int64_t begin, int64_t end, int64_t c, int64_t) {
    const float s = p.scale[c], inv = p.inv_scale[c], lo = p.low[c], hi = p.high[c];
    if (mask) forward_span<true>(element, x + begin, out + begin, mask + begin, end - begin, s, inv, lo, hi);
    else forward_span<false>(element, x + begin, out + begin, nullptr, end - begin, s, inv, lo, hi);
  });
}

// dx = dy * mask (clipped straight-through estimator), PyTorch's cachemask backward dY * mask,
// -0 and NaN * 0 included. (A select would also let GCC emit AVX-512 masked loads, slow on Zen 4.)
inline void masked_copy(const float* dy, const uint8_t* mask, float* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > autograd::kernels::kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * static_cast<float>(mask[i]);
}

}  // namespace qforge::fakequant::kernels
