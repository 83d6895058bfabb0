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

// Row chunks of the row traversal, each with its own per-position partial sums.
inline constexpr int64_t kLsqRowChunks = 16;

// Elements per block of lsq_span: the terms of one block go through a small buffer so the element
// loop has no reduction (GCC does not vectorize it with float -> double accumulators) and the sum
// loop is a plain vectorized reduction.
inline constexpr int64_t kLsqBlock = 256;

template <bool kDx, class Element, class P>
void lsq_terms(const Element& element, const float* x, const float* dy, float* dx, int64_t n, P s, P inv_s, P zp, P lo,
               P hi, float* ds, float* dzp) {
  const Element e = element;  // a local copy: its constants stay in registers (no alias checks)
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const bool inside =
        e.lsq(x[j], dy[j], at(s, j), at(inv_s, j), at(zp, j), at(lo, j), at(hi, j), ds[j], dzp[j]);
    if constexpr (kDx) dx[j] = inside ? dy[j] : 0.0f;
  }
}

inline double sum_in_double(const float* values, int64_t n) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += values[j];
  return sum;
}

template <bool kDx, class Element>
void lsq_span(const Element& element, const float* x, const float* dy, float* dx, int64_t n, float s, float inv_s,
              float zp, float lo, float hi, double& ds_sum, double& dzp_sum) {
  alignas(64) float ds[kLsqBlock];
  alignas(64) float dzp[kLsqBlock];
  ds_sum = dzp_sum = 0.0;
  for (int64_t begin = 0; begin < n; begin += kLsqBlock) {
    const int64_t m = std::min(kLsqBlock, n - begin);
    lsq_terms<kDx>(element, x + begin, dy + begin, kDx ? dx + begin : nullptr, m, s, inv_s, zp, lo, hi, ds, dzp);
    ds_sum += sum_in_double(ds, m);
    dzp_sum += sum_in_double(dzp, m);
  }
}

// One row of the row traversal: the terms are added to per-position sums.
template <bool kDx, class Element>
void lsq_row(const Element& element, const float* x, const float* dy, float* dx, const RowParams& row, int64_t n,
             double* ds_acc, double* dzp_acc) {
  alignas(64) float ds[kLsqBlock];
  alignas(64) float dzp[kLsqBlock];
  for (int64_t b = 0; b < n; b += kLsqBlock) {
    const int64_t m = std::min(kLsqBlock, n - b);
    lsq_terms<kDx>(element, x + b, dy + b, kDx ? dx + b : nullptr, m, row.scale.data() + b, row.inv_scale.data() + b,
                   row.zero_point.data() + b, row.low.data() + b, row.high.data() + b, ds, dzp);
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) {
      ds_acc[b + j] += ds[j];
      dzp_acc[b + j] += dzp[j];
    }
  }
}

template <class Element>
void lsq_backward_rows(const Element& element, const GridParams& p, const Traversal& t, const float* x,
                       const float* dy, float* dx, std::vector<double>& ds, std::vector<double>& dzp) {
  const RowParams row = expand_row(p, t);
  const int64_t length = t.count * t.inner;
  const int64_t chunks = std::min(t.outer, kLsqRowChunks);
  std::vector<double> ds_part(chunks * length, 0.0), dzp_part(chunks * length, 0.0);
#pragma omp parallel for schedule(static) if (t.parallel())
  for (int64_t c = 0; c < chunks; ++c) {
    double* ds_acc = ds_part.data() + c * length;
    double* dzp_acc = dzp_part.data() + c * length;
    for (int64_t r = t.outer * c / chunks; r < t.outer * (c + 1) / chunks; ++r) {
      const int64_t o = r * length;
      if (dx) lsq_row<true>(element, x + o, dy + o, dx + o, row, length, ds_acc, dzp_acc);
      else lsq_row<false>(element, x + o, dy + o, nullptr, row, length, ds_acc, dzp_acc);
    }
  }
  for (int64_t c = 0; c < chunks; ++c) {
    for (int64_t j = 0; j < length; ++j) {
      ds[j / t.inner] += ds_part[c * length + j];
      dzp[j / t.inner] += dzp_part[c * length + j];
    }
  }
}

// ds[c], dzp[c] = sums of the LSQ terms of parameter c (without the gradient scale g); dx (when
// not nullptr) = dy where the element is inside the grid, else 0.
template <class Element>
void lsq_backward(const Element& element, const GridParams& p, const Traversal& t, const float* x, const float* dy,
                  float* dx, std::vector<double>& ds, std::vector<double>& dzp) {
  ds.assign(t.count, 0.0);
  dzp.assign(t.count, 0.0);
  if (t.numel == 0) return;
  if (t.by_rows) return lsq_backward_rows(element, p, t, x, dy, dx, ds, dzp);
  std::vector<double> ds_slot(t.slots(), 0.0), dzp_slot(t.slots(), 0.0);
  for_each_segment(t, [&](int64_t begin, int64_t end, int64_t c, int64_t slot) {
    const float s = p.scale[c], inv = p.inv_scale[c], zp = p.zero_point[c], lo = p.low[c], hi = p.high[c];
    if (dx) {
      lsq_span<true>(element, x + begin, dy + begin, dx + begin, end - begin, s, inv, zp, lo, hi, ds_slot[slot],
                     dzp_slot[slot]);
    } else {
      lsq_span<false>(element, x + begin, dy + begin, nullptr, end - begin, s, inv, zp, lo, hi, ds_slot[slot],
                      dzp_slot[slot]);
    }
  });
  for (int64_t slot = 0; slot < t.slots(); ++slot) {
    ds[t.slot_parameter(slot)] += ds_slot[slot];
    dzp[t.slot_parameter(slot)] += dzp_slot[slot];
  }
}

}  // namespace qforge::fakequant::kernels
