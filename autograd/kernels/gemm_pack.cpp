// Packing for qforge's sgemm. The copies that read along the stored rows are plain masked
// vector copies; the two that must transpose (A not transposed, B transposed) go through
// 16x16 in-register transposes so that every source cache line is read once, densely.
#include "autograd/kernels/gemm_pack.h"

// The AVX-512 kernel; gemm_portable.cpp stands in on CPUs without AVX-512F.
#if defined(__AVX512F__)

#include <immintrin.h>

#include <algorithm>

#include "autograd/kernels/gemm_microkernel.h"

namespace qforge::autograd::kernels::detail {
namespace {

// GCC 12 reports the _mm512_undefined_ps() pass-through operand inside the shuffle intrinsics as
// "may be used uninitialized" once they are inlined here; it is a known false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

inline __m512 unpack_lo64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
inline __m512 unpack_hi64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

// In-register 16x16 transpose: on entry v[r] is row r, on return v[j] is column j.
// Two rounds of in-lane unpacks build 4x4 blocks inside each 128-bit lane, then two rounds of
// 128-bit lane shuffles move the blocks into place (64 shuffles for 256 elements).
// Everything is unrolled and inlined so the 32 vectors stay in registers.
[[gnu::always_inline]] inline void transpose16x16(__m512 (&v)[16]) {
  __m512 t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
#pragma GCC unroll 16
  for (int g = 0; g < 16; g += 4) {  // v[g + j], lane L: column 4L + j of rows g..g+3
    v[g + 0] = unpack_lo64(t[g], t[g + 2]);
    v[g + 1] = unpack_hi64(t[g], t[g + 2]);
    v[g + 2] = unpack_lo64(t[g + 1], t[g + 3]);
    v[g + 3] = unpack_hi64(t[g + 1], t[g + 3]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m512 v0 = _mm512_shuffle_f32x4(v[j], v[4 + j], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(v[j], v[4 + j], 0xDD);
    const __m512 v2 = _mm512_shuffle_f32x4(v[8 + j], v[12 + j], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(v[8 + j], v[12 + j], 0xDD);
    t[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    t[4 + j] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    t[8 + j] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    t[12 + j] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) v[i] = t[i];
}

// Transpose-copy of up to 16 stored rows: out[p*out_stride + r] = src[r*stride + p] for
// r < rows, 0 for rows <= r < 16; only the lanes in `keep` are written. Each source row is read
// 16 floats (one cache line) at a time, so strided rows still load whole lines.
void pack_transposed(const float* src, int64_t stride, int rows, int64_t kc, float* out, int64_t out_stride,
                     __mmask16 keep) {
  __m512 v[16];
  for (int64_t p = 0; p < kc; p += 16) {
    const int span = static_cast<int>(std::min<int64_t>(16, kc - p));
    const __mmask16 load = lane_mask(span);
#pragma GCC unroll 16
    for (int r = 0; r < 16; ++r)
      v[r] = r < rows ? _mm512_maskz_loadu_ps(load, src + r * stride + p) : _mm512_setzero_ps();
    transpose16x16(v);
#pragma GCC unroll 16
    for (int j = 0; j < span; ++j) _mm512_mask_storeu_ps(out + (p + j) * out_stride, keep, v[j]);
  }
}

#pragma GCC diagnostic pop

// A stored [k, m] (trans_a): one k step of a micro-panel is 12 contiguous floats, i.e. less
// than a cache line. Four micro-panels at a time make each k step read 48 floats = 3 whole
// lines, so no line has to be fetched again for a neighbouring micro-panel.
void pack_a_rows_contiguous(const float* src, int64_t lda, int rows, int64_t kc, float* out) {
  constexpr int kGroup = 4;
  __mmask16 mask[kGroup];
  for (int q = 0; q < kGroup; ++q) mask[q] = lane_mask(rows - q * kMR);
  for (int64_t p = 0; p < kc; ++p) {
#pragma GCC unroll 4
    for (int q = 0; q < kGroup; ++q) {
      if (mask[q] == 0) break;
      const __m512 v = _mm512_maskz_loadu_ps(mask[q], src + p * lda + q * kMR);
      _mm512_mask_storeu_ps(out + q * kMR * kc + p * kMR, lane_mask(kMR), v);
    }
  }
}

}  // namespace

void pack_a(const Operands& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* out) {
  for (int64_t i = 0; i < mc; i += (g.ta ? 4 * kMR : kMR)) {
    const int rows = static_cast<int>(std::min<int64_t>(g.ta ? 4 * kMR : kMR, mc - i));
    if (g.ta)
      pack_a_rows_contiguous(g.a + p0 * g.lda + i0 + i, g.lda, rows, kc, out + i * kc);
    else
      pack_transposed(g.a + (i0 + i) * g.lda + p0, g.lda, rows, kc, out + i * kc, kMR, lane_mask(kMR));
  }
}

void pack_b(const Operands& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  for (int64_t np = 0; np * kNR < nc; ++np) {
    const int64_t col0 = j0 + np * kNR;
    const int cols = static_cast<int>(std::min<int64_t>(kNR, j0 + nc - col0));
    float* dst = out + np * kNR * kc;
    if (!g.tb) {  // stored [k, n]: the kNR values of one k step are contiguous
      const __mmask16 m0 = lane_mask(cols), m1 = lane_mask(cols - 16);
      const float* src = g.b + p0 * g.ldb + col0;
      for (int64_t p = 0; p < kc; ++p) {
        _mm512_store_ps(dst + p * kNR, _mm512_maskz_loadu_ps(m0, src + p * g.ldb));
        _mm512_store_ps(dst + p * kNR + 16, _mm512_maskz_loadu_ps(m1, src + p * g.ldb + 16));
      }
    } else {
      const float* src = g.b + col0 * g.ldb + p0;
      pack_transposed(src, g.ldb, std::min(cols, 16), kc, dst, kNR, lane_mask(16));
      pack_transposed(src + 16 * g.ldb, g.ldb, std::max(cols - 16, 0), kc, dst + 16, kNR, lane_mask(16));
    }
  }
}

}  // namespace qforge::autograd::kernels::detail

#endif  // __AVX512F__
