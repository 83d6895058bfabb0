#include "fakequant/formats/ggml/q4_k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/decode_avx512.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void pack_scales_mins_k4(const uint8_t* sc, const uint8_t* m, uint8_t* scales) {
  std::memset(scales, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      scales[j] = sc[j];
      scales[j + 4] = m[j];
    } else {
      scales[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
      scales[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      scales[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
    }
  }
}

namespace {

// Final levels from the stored (f16 d, 6-bit sc/m); a sub-block whose stored scale is 0 keeps the
// levels of its search, as llama.cpp does.
void requantize(const float* x, int nmax, uint16_t d16, uint16_t dmin16, const uint8_t* scales, uint8_t* L) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales, &sc, &m);
    const float d = from_f16(d16) * sc;
    if (!d) continue;
    const float dm = from_f16(dmin16) * m;
    for (int ii = 0; ii < 32; ++ii) {
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, nearest_int((x[32 * j + ii] + dm) / d))));
    }
  }
}

void search_plain(const float* x, int nmax, const KQuantPlainSearch& plain, uint16_t& d, uint16_t& dmin,
                  uint8_t* packed, uint8_t* L, bool vectorized) {
  float weights[32], mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float av_x = std::sqrt(mean_square(x + 32 * j, 32));
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], plain.rmin, plain.rdelta,
                                 plain.nstep, vectorized);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  pack_scales_mins_k4(ls, lm, packed);
  d = to_f16(max_scale / 63.f);
  dmin = to_f16(max_min / 63.f);
}

void search_weighted(const float* x, const float* qw, int nmax, uint16_t& d, uint16_t& dmin, uint8_t* packed,
                     uint8_t* L, bool vectorized) {
  const float sigma2 = twice_mean_square(x, 256);
  uint8_t ls[8], lm[8];
  float weights[32], sw[8], mins[8], scales[8];
  for (int j = 0; j < 8; ++j) {
    importance_weights(x + 32 * j, qw + 32 * j, sigma2, 32, weights);
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = make_qkx3_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], -0.9f, 0.05f, 36, vectorized);
  }
  const float d_block = make_qp_quants(8, 63, scales, ls, sw);
  const float m_block = make_qp_quants(8, 63, mins, lm, sw);
  pack_scales_mins_k4(ls, lm, packed);
  d = to_f16(d_block);
  dmin = to_f16(m_block);
}

void quantize_row(const float* x, block_q4_K* y, int64_t k, const float* importance, bool vectorized) {
  const int64_t nb = checked_block_count("quantize_row_q4_K", k, kQKK);
  uint8_t L[256];
  for (int64_t i = 0; i < nb; ++i) {
    search_k4_super_block(x + kQKK * i, importance ? importance + kQKK * i : nullptr, 15, {-1.f, 0.1f, 20}, y[i].d,
                          y[i].dmin, y[i].scales, L, vectorized);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) y[i].qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + l + 32] << 4));
    }
  }
}

}  // namespace

void search_k4_super_block(const float* x, const float* importance, int nmax, const KQuantPlainSearch& plain,
                           uint16_t& d, uint16_t& dmin, uint8_t* scales, uint8_t* L, bool vectorized) {
  if (importance) {
    search_weighted(x, importance, nmax, d, dmin, scales, L, vectorized);
  } else {
    search_plain(x, nmax, plain, d, dmin, scales, L, vectorized);
  }
  requantize(x, nmax, d, dmin, scales, L);
}

void quantize_row_q4_K_ref(const float* x, block_q4_K* y, int64_t k, const float* importance) {
  quantize_row(x, y, k, importance, false);
}

void quantize_row_q4_K(const float* x, block_q4_K* y, int64_t k, const float* importance) {
#if defined(__AVX512F__)
  quantize_row(x, y, k, importance, true);
#else
  quantize_row(x, y, k, importance, false);
#endif
}

ChunkScales chunk_scales_k4(const uint8_t* scales, int c, float d, float dmin) {
  uint8_t sc, m;
  ChunkScales out;
  get_scale_min_k4(2 * c, scales, &sc, &m);
  out.d1 = d * sc, out.m1 = dmin * m;
  get_scale_min_k4(2 * c + 1, scales, &sc, &m);
  out.d2 = d * sc, out.m2 = dmin * m;
  return out;
}

void dequantize_row_q4_K_ref(const block_q4_K* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q4_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const float min = from_f16(x[i].dmin);
    for (int c = 0; c < 4; ++c) {
      const auto [d1, m1, d2, m2] = chunk_scales_k4(x[i].scales, c, d, min);
      const uint8_t* q = x[i].qs + 32 * c;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

// dequantize_row_q4_K_ref on 16 lanes: chunk c's 32 bytes give 32 low nibbles (sub-block 2c) then 32
// high nibbles (sub-block 2c + 1), each d·sc·q − dmin·m with the reference's scalar d1, m1.
void dequantize_row_q4_K(const block_q4_K* x, float* y, int64_t k) {
#if defined(QFORGE_GGML_DECODE_AVX512)
  const int64_t nb = checked_block_count("dequantize_row_q4_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const float min = from_f16(x[i].dmin);
    for (int c = 0; c < 4; ++c, y += 64) {
      const auto [d1, m1, d2, m2] = chunk_scales_k4(x[i].scales, c, d, min);
      for (int h = 0; h < 2; ++h) {
        const __m128i q = avx512::load16(x[i].qs + 32 * c + 16 * h);
        avx512::store_scaled_minus(y + 16 * h, d1, avx512::to_float(avx512::bits16(q, 0, 0xF)), m1);
        avx512::store_scaled_minus(y + 32 + 16 * h, d2, avx512::to_float(avx512::bits16(q, 4, 0xF)), m2);
      }
    }
  }
#else
  dequantize_row_q4_K_ref(x, y, k);
#endif
}

}  // namespace qforge::fakequant::ggml
