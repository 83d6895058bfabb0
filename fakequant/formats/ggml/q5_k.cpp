#include "fakequant/formats/ggml/q5_k.h"

#include <cstring>

#include "fakequant/formats/ggml/block_common.h"

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

void dequantize_row_q5_K(const block_q5_K* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q5_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const float min = from_f16(x[i].dmin);
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      const uint8_t* ql = x[i].qs + 32 * c;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + ((x[i].qh[l] >> (2 * c)) & 1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + ((x[i].qh[l] >> (2 * c + 1)) & 1 ? 16 : 0)) - m2;
    }
  }
}

}  // namespace qforge::fakequant::ggml
