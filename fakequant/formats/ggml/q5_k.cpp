#include "fakequant/formats/ggml/q5_k.h"

#include <cstring>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/decode_avx512.h"

namespace qforge::fakequant::ggml {
namespace {

void quantize_row(const float* x, block_q5_K* y, int64_t k, const float* importance, bool vectorized) {
  const int64_t nb = checked_block_count("quantize_row_q5_K", k, kQKK);
  uint8_t L[256];
  for (int64_t i = 0; i < nb; ++i) {
    block_q5_K& b = y[i];
    search_k4_super_block(x + kQKK * i, importance ? importance + kQKK * i : nullptr, 31, {-0.5f, 0.1f, 15}, b.d,
                          b.dmin, b.scales, L, vectorized);
    std::memset(b.qh, 0, sizeof(b.qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int low = L[64 * c + l], high = L[64 * c + 32 + l];
        b.qh[l] |= static_cast<uint8_t>(((low >> 4) << (2 * c)) | ((high >> 4) << (2 * c + 1)));
        b.qs[32 * c + l] = static_cast<uint8_t>((low & 0xF) | ((high & 0xF) << 4));
      }
    }
  }
}

}  // namespace

void quantize_row_q5_K_ref(const float* x, block_q5_K* y, int64_t k, const float* importance) {
  quantize_row(x, y, k, importance, false);
}

void quantize_row_q5_K(const float* x, block_q5_K* y, int64_t k, const float* importance) {
#if defined(__AVX512F__)
  quantize_row(x, y, k, importance, true);
#else
  quantize_row(x, y, k, importance, false);
#endif
}

void dequantize_row_q5_K_ref(const block_q5_K* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q5_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const float min = from_f16(x[i].dmin);
    for (int c = 0; c < 4; ++c) {
      const auto [d1, m1, d2, m2] = chunk_scales_k4(x[i].scales, c, d, min);
      const uint8_t* ql = x[i].qs + 32 * c;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + ((x[i].qh[l] >> (2 * c)) & 1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + ((x[i].qh[l] >> (2 * c + 1)) & 1 ? 16 : 0)) - m2;
    }
  }
}

// dequantize_row_q5_K_ref on 16 lanes: the nibble plus 16 times qh's bit 2c (low nibbles) or 2c + 1 (high).
void dequantize_row_q5_K(const block_q5_K* x, float* y, int64_t k) {
#if defined(QFORGE_GGML_DECODE_AVX512)
  const int64_t nb = checked_block_count("dequantize_row_q5_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const float min = from_f16(x[i].dmin);
    for (int c = 0; c < 4; ++c, y += 64) {
      const auto [d1, m1, d2, m2] = chunk_scales_k4(x[i].scales, c, d, min);
      for (int h = 0; h < 2; ++h) {
        const __m128i q = avx512::load16(x[i].qs + 32 * c + 16 * h), qh = avx512::load16(x[i].qh + 16 * h);
        const __m128i lo = _mm_or_si128(avx512::bits16(q, 0, 0xF), _mm_slli_epi16(avx512::bits16(qh, 2 * c, 1), 4));
        const __m128i hi = _mm_or_si128(avx512::bits16(q, 4, 0xF), _mm_slli_epi16(avx512::bits16(qh, 2 * c + 1, 1), 4));
        avx512::store_scaled_minus(y + 16 * h, d1, avx512::to_float(lo), m1);
        avx512::store_scaled_minus(y + 32 + 16 * h, d2, avx512::to_float(hi), m2);
      }
    }
  }
#else
  dequantize_row_q5_K_ref(x, y, k);
#endif
}

}  // namespace qforge::fakequant::ggml
