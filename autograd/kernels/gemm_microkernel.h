#pragma once
// AVX-512 register-tile kernel for qforge's sgemm (internal; included by gemm*.cpp only).
#include <immintrin.h>

#include <cstdint>

namespace qforge::autograd::kernels::detail {

// Register tile: 12 rows of C x 32 columns (two zmm per row) = 24 accumulators. Per k step that
// is 24 FMAs against 2 vector loads of packed B and 12 scalar broadcasts of packed A, which keeps
// both FMA pipes busy while leaving 6 registers for the B vectors and broadcast temporaries.
inline constexpr int kMR = 12;
inline constexpr int kNR = 32;

inline __mmask16 lane_mask(int count) {
  if (count >= 16) return static_cast<__mmask16>(0xFFFF);
  if (count <= 0) return 0;
  return static_cast<__mmask16>((1u << count) - 1u);
}

// C[0:mr, 0:nr] = alpha * acc + beta * C; beta == 0 never reads C so NaNs there cannot leak.
inline void store_tile(__m512 (&acc)[kMR][2], float* c, int64_t ldc, float alpha, float beta,
                       int mr, int nr) {
  const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr - 16);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) {
    if (r >= mr) break;
    float* row = c + r * ldc;
    __m512 v0 = _mm512_mul_ps(acc[r][0], va), v1 = _mm512_mul_ps(acc[r][1], va);
    if (beta != 0.0f) {
      v0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, row), vb, v0);
      v1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, row + 16), vb, v1);
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

inline void prefetch_c_tile(const float* c, int64_t ldc, int mr) {
  for (int r = 0; r < mr; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + kNR - 1), _MM_HINT_T0);
  }
}

// `steps` rank-1 updates of the 12x32 accumulator tile.
[[gnu::always_inline]] inline void k_steps(int64_t steps, const float*& pa, const float*& pb,
                                           __m512 (&acc)[kMR][2]) {
#pragma GCC unroll 4
  for (int64_t p = 0; p < steps; ++p) {
    const __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
#pragma GCC unroll 12
    for (int r = 0; r < kMR; ++r) {
      const __m512 av = _mm512_set1_ps(pa[r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
    pa += kMR;
    pb += kNR;
  }
}

// pa: packed A micro-panel, kc steps of kMR floats; pb: packed B micro-panel, kc steps of kNR
// floats (both zero-padded; pb 64-byte aligned). Edge tiles compute the full 12x32 product on
// the padding and only the store is clipped to mr x nr, so the hot loop has no edge branches.
inline void micro_kernel(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc,
                         float alpha, float beta, int mr, int nr) {
  // The C tile is prefetched shortly before the end rather than at the start: issued early,
  // its 24 lines get evicted again by the streamed B panel before the store reads them.
  constexpr int64_t kPrefetchC = 32;
  __m512 acc[kMR][2];
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const int64_t head = kc > kPrefetchC ? kc - kPrefetchC : 0;
  k_steps(head, pa, pb, acc);
  prefetch_c_tile(c, ldc, mr);
  k_steps(kc - head, pa, pb, acc);
  store_tile(acc, c, ldc, alpha, beta, mr, nr);
}

}  // namespace qforge::autograd::kernels::detail
