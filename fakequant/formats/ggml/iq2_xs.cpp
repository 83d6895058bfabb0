#include "fakequant/formats/ggml/iq2_xs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/decode_avx512.h"
#include "fakequant/formats/ggml/iq_grid_search.h"
#include "fakequant/formats/ggml/iq_grids.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

// quantize_row_iq2_xs_impl's search: blocks of 16, levels 0..2, 19 trials (5 + 0.1·is)/max.
constexpr IqScaleSearch kSearch{16, 3, 9, 0.1f, true, false};

void quantize_super_block(const IqGridSearch& g, const float* x, const float* qw, block_iq2_xs& y) {
  const float sigma2 = mean_square(x, 256);
  uint16_t q2[32] = {};
  float scales[16], max_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const float* xb = x + 16 * ib;
    float weight[16], waux[16], xval[16];
    importance_weights(xb, qw + 16 * ib, sigma2, 16, weight);
    for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
    uint8_t signs[2];
    iq_fold_signs(xb, weight, 2, xval, signs);
    const float max = *std::max_element(xval, xval + 16);
    scales[ib] = 0;
    if (max < kGroupMaxEps) continue;  // grid index 0, signs 0
    int8_t L[16] = {};
    float scale = iq_search_scale(g, kSearch, xval, weight, waux, max, L);
    if (scale < 0) {  // llama.cpp: "should never happen"; stored scales are unsigned
      scale = -scale;
      for (uint8_t& s : signs) s = static_cast<uint8_t>(~s & 127);
    }
    for (int k = 0; k < 2; ++k) {
      int u = 0;
      for (int i = 0; i < 8; ++i) u |= L[8 * k + i] << (2 * i);
      const int index = g.grid_index(u);
      if (index < 0) throw std::logic_error("quantize_row_iq2_xs: levels off the grid");
      q2[2 * ib + k] = static_cast<uint16_t>(index | (signs[k] << 9));
    }
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  y.d = to_f16(0.f);
  std::memset(y.scales, 0, sizeof(y.scales));
  std::memset(y.qs, 0, sizeof(y.qs));
  if (!max_scale) return;
  const float d = max_scale / 31;
  y.d = to_f16(d);
  const float id = 1 / d;
  for (int ib = 0; ib < 16; ++ib) {
    const int l = std::clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
    y.scales[ib / 2] = static_cast<uint8_t>(ib % 2 == 0 ? l : y.scales[ib / 2] | (l << 4));
  }
  std::memcpy(y.qs, q2, sizeof(q2));
}

}  // namespace

void quantize_row_iq2_xs(const float* x, block_iq2_xs* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_iq2_xs", k, 256);
  if (importance == nullptr) {
    throw std::invalid_argument("quantize_row_iq2_xs: IQ2_XS needs an importance matrix (llama.cpp refuses "
                                "without one, ggml_quantize_requires_imatrix)");
  }
  const IqGridSearch& g = iq_grid_search("iq2_xs");
  for (int64_t i = 0; i < nb; ++i) quantize_super_block(g, x + 256 * i, importance + 256 * i, y[i]);
}

void dequantize_row_iq2_xs_ref(const block_iq2_xs* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq2_xs", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib] & 0xf)) * 0.25f, d * (0.5f + (x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = x[i].qs[4 * ib + l];
        const uint64_t grid = kIQ2XSGrid[q & 511];
        const uint8_t signs = kSignsIQ2XS[q >> 9];
        for (int j = 0; j < 8; ++j) {
          y[j] = db[l / 2] * static_cast<float>((grid >> (8 * j)) & 0xff) * (iq_sign(signs, j) ? -1.f : 1.f);
        }
      }
    }
  }
}

// dequantize_row_iq2_xs_ref on 16 lanes: two grid points (qs[4ib + l], l = 2p, 2p + 1) share db[p]. The
// reference's product with −1.f is an exact negation, so the fast path flips the sign bit of db·g under
// the two 8-bit sign masks (the same float for every finite db·g, and db·g is finite: d is a finite f16).
void dequantize_row_iq2_xs(const block_iq2_xs* x, float* y, int64_t k) {
#if defined(QFORGE_GGML_DECODE_AVX512)
  const int64_t nb = checked_block_count("dequantize_row_iq2_xs", k, 256);
  const __m512i sign_bit = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib] & 0xf)) * 0.25f, d * (0.5f + (x[i].scales[ib] >> 4)) * 0.25f};
      for (int p = 0; p < 2; ++p, y += 16) {
        const uint16_t q0 = x[i].qs[4 * ib + 2 * p], q1 = x[i].qs[4 * ib + 2 * p + 1];
        const __m128i grid = _mm_set_epi64x(static_cast<int64_t>(kIQ2XSGrid[q1 & 511]), static_cast<int64_t>(kIQ2XSGrid[q0 & 511]));
        const __mmask16 negative = static_cast<__mmask16>(kSignsIQ2XS[q0 >> 9] | (kSignsIQ2XS[q1 >> 9] << 8));
        const __m512i v = _mm512_castps_si512(_mm512_mul_ps(_mm512_set1_ps(db[p]), avx512::to_float(grid)));
        _mm512_storeu_ps(y, _mm512_castsi512_ps(_mm512_mask_xor_epi32(v, negative, v, sign_bit)));
      }
    }
  }
#else
  dequantize_row_iq2_xs_ref(x, y, k);
#endif
}

}  // namespace qforge::fakequant::ggml
