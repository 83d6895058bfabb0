#include "fakequant/formats/ggml/q6_k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/decode_avx512.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

void pack_q6_K(const int8_t* L, block_q6_K& b) {
  for (int h = 0; h < 2; ++h) {
    const int8_t* Lh = L + 128 * h;
    uint8_t* ql = b.ql + 64 * h;
    uint8_t* qh = b.qh + 32 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                                   ((Lh[l + 96] >> 4) << 6));
    }
  }
}

void quantize_block(const float* x, const float* qw, block_q6_K& b, bool vectorized) {
  int8_t L[256];
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, qw ? qw + 16 * ib : nullptr, vectorized);
    if (std::fabs(scales[ib]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(&b, 0, sizeof(b));
    return;
  }
  const float iscale = -128.f / max_scale;
  b.d = to_f16(1 / iscale);
  for (int ib = 0; ib < 16; ++ib) b.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  // Levels from the stored scales; a sub-block with scale 0 keeps its search levels (as llama.cpp).
  for (int j = 0; j < 16; ++j) {
    const float d = from_f16(b.d) * b.scales[j];
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      L[16 * j + ii] = static_cast<int8_t>(level_q6_K(x[16 * j + ii], d));
    }
  }
  pack_q6_K(L, b);
}

// The walk both decoders share: per block its scale d, then its two halves of 128 values with their
// ql (64 bytes), qh (32) and 8 sub-block scales, y advancing by 128 (dequantize_row_q6_K in
// ggml-quants.c). A template, so each body inlines into its own loop.
template <class Half>
void for_each_half(const block_q6_K* x, float* y, int64_t k, Half half) {
  const int64_t nb = checked_block_count("dequantize_row_q6_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int h = 0; h < 2; ++h, y += 128) half(d, x[i].ql + 64 * h, x[i].qh + 32 * h, x[i].scales + 8 * h, y);
  }
}

}  // namespace

void quantize_row_q6_K_ref(const float* x, block_q6_K* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_q6_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    quantize_block(x + kQKK * i, importance ? importance + kQKK * i : nullptr, y[i], false);
  }
}

void quantize_row_q6_K(const float* x, block_q6_K* y, int64_t k, const float* importance) {
#if defined(__AVX512F__)
  const int64_t nb = checked_block_count("quantize_row_q6_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    quantize_block(x + kQKK * i, importance ? importance + kQKK * i : nullptr, y[i], true);
  }
#else
  quantize_row_q6_K_ref(x, y, k, importance);
#endif
}

void dequantize_row_q6_K_ref(const block_q6_K* x, float* y, int64_t k) {
  for_each_half(x, y, k, [](float d, const uint8_t* ql, const uint8_t* qh, const int8_t* sc, float* yh) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      yh[l] = d * sc[is] * q1;
      yh[l + 32] = d * sc[is + 2] * q2;
      yh[l + 64] = d * sc[is + 4] * q3;
      yh[l + 96] = d * sc[is + 6] * q4;
    }
  });
}

// dequantize_row_q6_K_ref on 16 lanes: lanes l = 16·is .. 16·is + 15 of each quarter share the scale
// d·sc (rounded once, as the reference's left-to-right d * sc * q), times the 6-bit level − 32.
void dequantize_row_q6_K(const block_q6_K* x, float* y, int64_t k) {
#if defined(QFORGE_GGML_DECODE_AVX512)
  for_each_half(x, y, k, [](float d, const uint8_t* ql, const uint8_t* qh_bytes, const int8_t* sc, float* yh) {
    for (int is = 0; is < 2; ++is) {
      const __m128i a = avx512::load16(ql + 16 * is), b = avx512::load16(ql + 32 + 16 * is);
      const __m128i qh = avx512::load16(qh_bytes + 16 * is);
      const __m128i q1 = _mm_or_si128(avx512::bits16(a, 0, 0xF), _mm_slli_epi16(avx512::bits16(qh, 0, 3), 4));
      const __m128i q2 = _mm_or_si128(avx512::bits16(b, 0, 0xF), _mm_slli_epi16(avx512::bits16(qh, 2, 3), 4));
      const __m128i q3 = _mm_or_si128(avx512::bits16(a, 4, 0xF), _mm_slli_epi16(avx512::bits16(qh, 4, 3), 4));
      const __m128i q4 = _mm_or_si128(avx512::bits16(b, 4, 0xF), _mm_slli_epi16(avx512::bits16(qh, 6, 3), 4));
      avx512::store_scaled(yh + 16 * is, d * sc[is], avx512::to_float(q1, 32));
      avx512::store_scaled(yh + 32 + 16 * is, d * sc[is + 2], avx512::to_float(q2, 32));
      avx512::store_scaled(yh + 64 + 16 * is, d * sc[is + 4], avx512::to_float(q3, 32));
      avx512::store_scaled(yh + 96 + 16 * is, d * sc[is + 6], avx512::to_float(q4, 32));
    }
  });
#else
  dequantize_row_q6_K_ref(x, y, k);
#endif
}

}  // namespace qforge::fakequant::ggml
