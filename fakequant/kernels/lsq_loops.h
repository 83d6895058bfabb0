#pragma once
// Backward of the LSQ / LSQ+ FakeQuant op (Esser et al. 2020; Bhalgat et al. 2020): one pass over
// x and dy that writes dx and sums the per-element scale and zero-point terms of
// fake_quant_elements.h per parameter, over the traversals of fake_quant_loops.h. Sums run in
// double within a run and over fixed partial slots, so they are deterministic.
// Internal header: include it from fakequant .cpp files only.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fakequant/kernels/fake_quant_loops.h"

namespace qforge::fakequant::kernels {

// Elements per block of lsq_span: the terms of one block go through a small buffer so the element
// loop has no reduction (GCC does not vectorize it with float -> double accumulators) and the sum
// loop is a plain vectorized reduction.
inline constexpr int64_t kLsqBlock = 256;

// Per-element terms into the ds / dzp buffers (always both: writing the unused one to L1 is cheaper
// than the branchy code GCC makes of a conditional store), dx when kDx.
template <bool kDx, class Element, class P>
void lsq_terms(const Element& element, const float* x, const float* dy, float* dx, int64_t n, P s, P inv_s, P zp, P lo,
               P hi, float* ds, float* dzp) {
  const Element e = element;  // a local copy: its constants stay in registers (no alias checks)
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const bool inside = e.lsq(x[j], dy[j], at(s, j), at(inv_s, j), at(zp, j), at(lo, j), at(hi, j), ds[j], dzp[j]);
    if constexpr (kDx) dx[j] = inside ? dy[j] : 0.0f;
  }
}

inline double sum_in_double(const float* values, int64_t n) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += values[j];
  return sum;
}

// kDx: write dx; kZp: sum the zero-point terms too (LSQ+ only).
template <bool kDx, bool kZp, class Element>
void lsq_span(const Element& element, const float* x, const float* dy, float* dx, int64_t n, float s, float inv_s,
              float zp, float lo, float hi, double& ds_sum, double& dzp_sum) {
  alignas(64) float ds[kLsqBlock];
  alignas(64) float dzp[kLsqBlock];
  ds_sum = dzp_sum = 0.0;
  for (int64_t begin = 0; begin < n; begin += kLsqBlock) {
    const int64_t m = std::min(kLsqBlock, n - begin);
    lsq_terms<kDx>(element, x + begin, dy + begin, kDx ? dx + begin : nullptr, m, s, inv_s, zp, lo, hi, ds, dzp);
    ds_sum += sum_in_double(ds, m);
    if constexpr (kZp) dzp_sum += sum_in_double(dzp, m);
  }
}

// Row traversal: each chunk adds its rows' terms to per-position float sums (at most
// outer / kRowChunks rows each), which are then added chunk by chunk in double.
template <bool kDx, bool kZp, class Element>
void lsq_backward_rows(const Element& element, const GridParams& p, const Traversal& t, const float* x,
                       const float* dy, float* dx, std::vector<double>& ds, std::vector<double>& dzp) {
  const RowParams row = expand_row(p, t);
  const int64_t length = t.count * t.inner;
  const int64_t chunks = std::min(t.outer, kRowChunks);
  std::vector<float> ds_part(chunks * length, 0.0f), dzp_part(kZp ? chunks * length : 0, 0.0f);
  for_each_row_block(t, [&](int64_t o, int64_t j, int64_t m, int64_t c) {
    alignas(64) float ds_terms[kRowBlock];
    alignas(64) float dzp_terms[kRowBlock];
    lsq_terms<kDx>(element, x + o, dy + o, kDx ? dx + o : nullptr, m, row.scale.data() + j, row.inv_scale.data() + j,
                   row.zero_point.data() + j, row.low.data() + j, row.high.data() + j, ds_terms, dzp_terms);
    float* ds_acc = ds_part.data() + c * length + j;
#pragma omp simd
    for (int64_t k = 0; k < m; ++k) ds_acc[k] += ds_terms[k];
    if constexpr (kZp) {
      float* dzp_acc = dzp_part.data() + c * length + j;
#pragma omp simd
      for (int64_t k = 0; k < m; ++k) dzp_acc[k] += dzp_terms[k];
    }
  });
  for (int64_t c = 0; c < chunks; ++c) {
    for (int64_t j = 0; j < length; ++j) {
      ds[j / t.inner] += ds_part[c * length + j];
      if constexpr (kZp) dzp[j / t.inner] += dzp_part[c * length + j];
    }
  }
}

template <bool kDx, bool kZp, class Element>
void lsq_backward_segments(const Element& element, const GridParams& p, const Traversal& t, const float* x,
                           const float* dy, float* dx, std::vector<double>& ds, std::vector<double>& dzp) {
  std::vector<double> ds_slot(t.slots(), 0.0), dzp_slot(t.slots(), 0.0);
  for_each_segment(t, [&](int64_t begin, int64_t end, int64_t c, int64_t slot) {
    lsq_span<kDx, kZp>(element, x + begin, dy + begin, kDx ? dx + begin : nullptr, end - begin, p.scale[c],
                       p.inv_scale[c], p.zero_point[c], p.low[c], p.high[c], ds_slot[slot], dzp_slot[slot]);
  });
  for (int64_t slot = 0; slot < t.slots(); ++slot) {
    ds[t.slot_parameter(slot)] += ds_slot[slot];
    dzp[t.slot_parameter(slot)] += dzp_slot[slot];
  }
}

template <bool kDx, bool kZp, class Element>
void lsq_backward_any(const Element& element, const GridParams& p, const Traversal& t, const float* x,
                      const float* dy, float* dx, std::vector<double>& ds, std::vector<double>& dzp) {
  if (t.by_rows) lsq_backward_rows<kDx, kZp>(element, p, t, x, dy, dx, ds, dzp);
  else lsq_backward_segments<kDx, kZp>(element, p, t, x, dy, dx, ds, dzp);
}

// ds[c], dzp[c] = sums of the LSQ terms of parameter c (without the gradient scale g; dzp only when
// with_zero_point, else zeros); dx (when not nullptr) = dy where the element is inside the grid, else 0.
template <class Element>
void lsq_backward(const Element& element, const GridParams& p, const Traversal& t, const float* x, const float* dy,
                  float* dx, bool with_zero_point, std::vector<double>& ds, std::vector<double>& dzp) {
  ds.assign(t.count, 0.0);
  dzp.assign(t.count, 0.0);
  if (t.numel == 0) return;
  if (dx && with_zero_point) lsq_backward_any<true, true>(element, p, t, x, dy, dx, ds, dzp);
  else if (dx) lsq_backward_any<true, false>(element, p, t, x, dy, dx, ds, dzp);
  else if (with_zero_point) lsq_backward_any<false, true>(element, p, t, x, dy, dx, ds, dzp);
  else lsq_backward_any<false, false>(element, p, t, x, dy, dx, ds, dzp);
}

}  // namespace qforge::fakequant::kernels
