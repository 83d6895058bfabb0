#include "fakequant/formats/ggml/q2_k.h"

#include <algorithm>
#include <cmath>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/decode_avx512.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

// Levels from the stored d, dmin and 4-bit scales/mins, then the 2-bit packing.
void requantize_and_pack(const float* x, uint8_t* L, block_q2_K& b) {
  for (int j = 0; j < 16; ++j) {
    const float d = from_f16(b.d) * (b.scales[j] & 0xF);
    if (!d) continue;
    const float dm = from_f16(b.dmin) * (b.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      L[16 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, nearest_int((x[16 * j + ii] + dm) / d))));
    }
  }
  for (int h = 0; h < 2; ++h) {
    const uint8_t* Lh = L + 128 * h;
    for (int l = 0; l < 32; ++l) {
      b.qs[32 * h + l] = static_cast<uint8_t>(Lh[l] | (Lh[l + 32] << 2) | (Lh[l + 64] << 4) | (Lh[l + 96] << 6));
    }
  }
}

void quantize_block_plain(const float* x, block_q2_K& b, bool vectorized) {
  uint8_t L[256];
  float weights[16], mins[16], scales[16];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants_mad(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, vectorized);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  // The scale and min codes are stored as ggml does, int to uint8_t (no clamp).
  if (max_scale > 0) {
    const float iscale = 15.f / max_scale;
    for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    b.d = to_f16(max_scale / 15.f);
  } else {
    for (int j = 0; j < 16; ++j) b.scales[j] = 0;
    b.d = to_f16(0.f);
  }
  if (max_min > 0) {
    const float iscale = 15.f / max_min;
    for (int j = 0; j < 16; ++j) b.scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
    b.dmin = to_f16(max_min / 15.f);
  } else {
    b.dmin = to_f16(0.f);
  }
  requantize_and_pack(x, L, b);
}

void quantize_block_weighted(const float* x, const float* qw, block_q2_K& b, bool vectorized) {
  const float sigma2 = mean_square(x, 256);
  uint8_t L[256], ls[16], lm[16];
  float weight[16], sw[16], mins[16], scales[16];
  for (int j = 0; j < 16; ++j) {
    importance_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weight);
    float sumw = 0;
    for (int l = 0; l < 16; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], -0.9f, 0.05f, 36, vectorized);
  }
  b.d = to_f16(make_qp_quants(16, 15, scales, ls, sw));
  b.dmin = to_f16(make_qp_quants(16, 15, mins, lm, sw));
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(ls[j] | (lm[j] << 4));
  requantize_and_pack(x, L, b);
}

void quantize_row(const float* x, block_q2_K* y, int64_t k, const float* importance, bool vectorized) {
  const int64_t nb = checked_block_count("quantize_row_q2_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    if (importance) {
      quantize_block_weighted(x + kQKK * i, importance + kQKK * i, y[i], vectorized);
    } else {
      quantize_block_plain(x + kQKK * i, y[i], vectorized);
    }
  }
}

}  // namespace

void quantize_row_q2_K_ref(const float* x, block_q2_K* y, int64_t k, const float* importance) {
  quantize_row(x, y, k, importance, false);
}

// The same searches with 16 candidate scales per vector (scale_search.h): the same bytes.
void quantize_row_q2_K(const float* x, block_q2_K* y, int64_t k, const float* importance) {
#if defined(__AVX512F__)
  quantize_row(x, y, k, importance, true);
#else
  quantize_row(x, y, k, importance, false);
#endif
}

void dequantize_row_q2_K_ref(const block_q2_K* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q2_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const float min = from_f16(x[i].dmin);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = x[i].qs + 32 * h;
      for (int s = 0; s < 4; ++s) {
        for (int half = 0; half < 2; ++half) {  // sub-block 8h + 2s + half: bytes 16·half .. 16·half + 15
          const uint8_t sc = x[i].scales[8 * h + 2 * s + half];
          const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[16 * half + l] >> (2 * s)) & 3) - ml;
        }
      }
    }
  }
}

// dequantize_row_q2_K_ref on 16 lanes (one sub-block): d·sc·q − dmin·m with the reference's scalar dl, ml.
void dequantize_row_q2_K(const block_q2_K* x, float* y, int64_t k) {
#if defined(QFORGE_GGML_DECODE_AVX512)
  const int64_t nb = checked_block_count("dequantize_row_q2_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const float min = from_f16(x[i].dmin);
    for (int h = 0; h < 2; ++h) {
      const __m128i q[2] = {avx512::load16(x[i].qs + 32 * h), avx512::load16(x[i].qs + 32 * h + 16)};
      for (int s = 0; s < 4; ++s) {
        for (int half = 0; half < 2; ++half, y += 16) {
          const uint8_t sc = x[i].scales[8 * h + 2 * s + half];
          const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
          avx512::store_scaled_minus(y, dl, avx512::to_float(avx512::bits16(q[half], 2 * s, 3)), ml);
        }
      }
    }
  }
#else
  dequantize_row_q2_K_ref(x, y, k);
#endif
}

}  // namespace qforge::fakequant::ggml
