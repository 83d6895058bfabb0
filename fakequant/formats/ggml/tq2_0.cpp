#include "fakequant/formats/ggml/tq2_0.h"

#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "fakequant/formats/ggml/block_common.h"

namespace qforge::fakequant::ggml {

void quantize_row_tq2_0_ref(const float* x, block_tq2_0* y, int64_t k, const float* /*importance*/) {
  const int64_t nb = checked_block_count("quantize_row_tq2_0", k, 256);
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    const float id = ternary_block_scale(x, y[i].d);
    for (int g = 0; g < 2; ++g) {
      for (int m = 0; m < 32; ++m) {
        int q = 0;
        for (int n = 0; n < 4; ++n) q |= ((static_cast<int>(std::lround(x[128 * g + m + 32 * n] * id)) + 1) & 3) << (2 * n);
        y[i].qs[32 * g + m] = static_cast<uint8_t>(q);
      }
    }
  }
}

// quantize_row_tq2_0_ref with the 32 bytes m of a group as two vectors of 16: amax is a max (order-free),
// and lround is rebuilt exactly (block_common.h lround16), so the bytes are the reference's.
void quantize_row_tq2_0(const float* x, block_tq2_0* y, int64_t k, const float* importance) {
#if defined(__AVX512F__)
  const int64_t nb = checked_block_count("quantize_row_tq2_0", k, 256);
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    const __m512 id = _mm512_set1_ps(ternary_block_scale(x, y[i].d));
    for (int g = 0; g < 2; ++g) {
      for (int m = 0; m < 32; m += 16) {
        __m512i q = _mm512_setzero_si512();
        for (int n = 0; n < 4; ++n) {
          const __m512i t = lround16(_mm512_mul_ps(_mm512_loadu_ps(x + 128 * g + m + 32 * n), id));
          const __m512i code = _mm512_and_si512(_mm512_add_epi32(t, _mm512_set1_epi32(1)), _mm512_set1_epi32(3));
          q = _mm512_or_si512(q, _mm512_slli_epi32(code, 2 * n));
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 32 * g + m), _mm512_cvtepi32_epi8(q));
      }
    }
  }
#else
  quantize_row_tq2_0_ref(x, y, k, importance);
#endif
}

void dequantize_row_tq2_0(const block_tq2_0* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_tq2_0", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int g = 0; g < 2; ++g) {
      for (int n = 0; n < 4; ++n) {
        for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((x[i].qs[32 * g + m] >> (2 * n)) & 3) - 1) * d;
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
