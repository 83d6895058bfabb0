// Packing for qforge's sgemm. The copies that read along the stored rows are plain masked
// vector copies; the two that must transpose (A not transposed, B transposed) go through
// 16x16 in-register transposes so that every source cache line is read once, densely.
#include "autograd/kernels/gemm_pack.h"

#include <immintrin.h>

#include <algorithm>

#include "autograd/kernels/gemm_microkernel.h"

namespace qforge::autograd::kernels::detail {
namespace {

// Generic strided transpose-copy: out[p*width + r] = src[r*stride + p] for r < rows, else 0.
void pack_transposed_scalar(const float* src, int64_t stride, int rows, int64_t kc, int width,
                            float* out) {
  for (int64_t p = 0; p < kc; ++p) {
    for (int r = 0; r < width; ++r) out[p * width + r] = r < rows ? src[r * stride + p] : 0.0f;
  }
}

}  // namespace

void pack_a(const Operands& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* out,
            int64_t mp_lo, int64_t mp_hi) {
  for (int64_t mp = mp_lo; mp < mp_hi; ++mp) {
    const int64_t row0 = i0 + mp * kMR;
    const int rows = static_cast<int>(std::min<int64_t>(kMR, i0 + mc - row0));
    float* dst = out + mp * kMR * kc;
    if (g.ta) {  // stored [k, m]: the kMR values of one k step are contiguous
      const __mmask16 mask = lane_mask(rows);
      const float* src = g.a + p0 * g.lda + row0;
      for (int64_t p = 0; p < kc; ++p)
        _mm512_mask_storeu_ps(dst + p * kMR, lane_mask(kMR), _mm512_maskz_loadu_ps(mask, src + p * g.lda));
    } else {
      pack_transposed_scalar(g.a + row0 * g.lda + p0, g.lda, rows, kc, kMR, dst);
    }
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
      pack_transposed_scalar(g.b + col0 * g.ldb + p0, g.ldb, cols, kc, kNR, dst);
    }
  }
}

}  // namespace qforge::autograd::kernels::detail
