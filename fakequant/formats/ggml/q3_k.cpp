#include "fakequant/formats/ggml/q3_k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/decode_avx512.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {

int q3_K_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  return low | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
}

void pack_scales_q3_K(const int* codes, uint8_t* scales) {
  std::memset(scales, 0, 12);
  for (int j = 0; j < 16; ++j) {
    const int l = codes[j];
    if (j < 8) {
      scales[j] = static_cast<uint8_t>(l & 0xF);
    } else {
      scales[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    }
    scales[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
  }
}

namespace {

// Levels from the stored d and 6-bit scales (l in [−4, 3] stored as l + 4), then the split into the
// hmask bit (level > 3) and the 2-bit qs, as quantize_row_q3_K_ref's last loops.
void requantize_and_pack(const float* x, int8_t* L, block_q3_K& b) {
  for (int j = 0; j < 16; ++j) {
    const float d = from_f16(b.d) * (q3_K_scale(b.scales, j) - 32);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      L[16 * j + ii] = static_cast<int8_t>(std::max(-4, std::min(3, nearest_int(x[16 * j + ii] / d))) + 4);
    }
  }
  std::memset(b.hmask, 0, sizeof(b.hmask));
  for (int e = 0; e < 256; ++e) {
    if (L[e] > 3) {
      b.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
      L[e] = static_cast<int8_t>(L[e] - 4);
    }
  }
  for (int h = 0; h < 2; ++h) {
    const int8_t* Lh = L + 128 * h;
    for (int l = 0; l < 32; ++l) {
      b.qs[32 * h + l] = static_cast<uint8_t>(Lh[l] | (Lh[l + 32] << 2) | (Lh[l + 64] << 4) | (Lh[l + 96] << 6));
    }
  }
}

void quantize_block_plain(const float* x, block_q3_K& b) {
  int8_t L[256];
  float scales[16];
  float max_scale = 0, amax = 0;
  for (int j = 0; j < 16; ++j) {
    scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
    if (std::fabs(scales[j]) > amax) { amax = std::fabs(scales[j]); max_scale = scales[j]; }
  }
  int codes[16] = {};
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < 16; ++j) {
      // ggml keeps nearest_int's result in an int8_t before clamping; |iscale·scale| <= 32 fits.
      const int l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      codes[j] = std::max(-32, std::min(31, l)) + 32;
    }
    pack_scales_q3_K(codes, b.scales);
    b.d = to_f16(1 / iscale);
  } else {
    std::memset(b.scales, 0, 12);
    b.d = to_f16(0.f);
  }
  requantize_and_pack(x, L, b);
}

void quantize_block_weighted(const float* x, const float* qw, block_q3_K& b) {
  const float sigma2 = twice_mean_square(x, 256);
  int8_t L[256], ls[16];
  float weight[16], sw[16], scales[16];
  for (int j = 0; j < 16; ++j) {
    importance_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weight);
    float sumw = 0;
    for (int l = 0; l < 16; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, weight);
  }
  const float d_block = make_qx_quants(16, 32, scales, ls, sw);
  int codes[16];
  for (int j = 0; j < 16; ++j) codes[j] = ls[j];
  pack_scales_q3_K(codes, b.scales);
  b.d = to_f16(d_block);
  requantize_and_pack(x, L, b);
}

}  // namespace

void quantize_row_q3_K_ref(const float* x, block_q3_K* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_q3_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    if (importance) {
      quantize_block_weighted(x + kQKK * i, importance + kQKK * i, y[i]);
    } else {
      quantize_block_plain(x + kQKK * i, y[i]);
    }
  }
}

void dequantize_row_q3_K_ref(const block_q3_K* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q3_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = from_f16(x[i].d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = x[i].qs + 32 * h;
      for (int s = 0; s < 4; ++s) {
        const int bit = 4 * h + s;  // hmask bit of elements 128h + 32s .. 128h + 32s + 31
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * (q3_K_scale(x[i].scales, 8 * h + 2 * s + half) - 32);
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int low = (q[l] >> (2 * s)) & 3;
            *y++ = dl * (low - ((x[i].hmask[l] >> bit) & 1 ? 0 : 4));
          }
        }
      }
    }
  }
}

// dequantize_row_q3_K_ref on 16 lanes (one sub-block): level = low 2 bits + 4·hmask bit − 4, in [−4, 3].
void dequantize_row_q3_K(const block_q3_K* x, float* y, int64_t k) {
#if defined(QFORGE_GGML_DECODE_AVX512)
  const int64_t nb = checked_block_count("dequantize_row_q3_K", k, kQKK);
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = from_f16(x[i].d);
    const __m128i hmask[2] = {avx512::load16(x[i].hmask), avx512::load16(x[i].hmask + 16)};
    for (int h = 0; h < 2; ++h) {
      const __m128i q[2] = {avx512::load16(x[i].qs + 32 * h), avx512::load16(x[i].qs + 32 * h + 16)};
      for (int s = 0; s < 4; ++s) {
        for (int half = 0; half < 2; ++half, y += 16) {
          const float dl = d_all * (q3_K_scale(x[i].scales, 8 * h + 2 * s + half) - 32);
          const __m128i high = _mm_slli_epi16(avx512::bits16(hmask[half], 4 * h + s, 1), 2);
          avx512::store_scaled(y, dl, avx512::to_float(_mm_or_si128(avx512::bits16(q[half], 2 * s, 3), high), 4));
        }
      }
    }
  }
#else
  dequantize_row_q3_K_ref(x, y, k);
#endif
}

}  // namespace qforge::fakequant::ggml
