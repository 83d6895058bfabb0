#include "fakequant/formats/ggml/iq3_xxs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grid_search.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {
namespace {

// quantize_row_iq3_xxs_impl: blocks of 32, levels 0..7, 31 trials (15 + 0.2·is)/max.
constexpr IqScaleSearch kSearch{32, 8, 15, 0.2f, true, false};
constexpr float kGroupMaxEpsIQ3XXS = 1e-8f;  // GROUP_MAX_EPS_IQ3_XXS

// Weights of a block of 32: imp·sqrt(σ² + x²) with importance, else x² (quantize_row_iq3_xxs_impl and
// quantize_row_iq3_s_impl).
void block_weights(const float* xb, const float* qw, float sigma2, float* weight, float* waux) {
  importance_weights(xb, qw, sigma2, 32, weight);
  for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
}

void quantize_super_block(const IqGridSearch& g, const float* x, const float* qw, block_iq3_xxs& y) {
  const float sigma2 = twice_mean_square(x, 256);
  uint8_t q3[96] = {};
  uint32_t scales_and_signs[8] = {};
  float scales[8], max_scale = 0;
  for (int ib = 0; ib < 8; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32], waux[32], xval[32];
    block_weights(xb, qw ? qw + 32 * ib : nullptr, sigma2, weight, waux);
    uint8_t signs[4];
    iq_fold_signs(xb, weight, 4, xval, signs);
    const float max = *std::max_element(xval, xval + 32);
    scales[ib] = 0;
    if (max < kGroupMaxEpsIQ3XXS) continue;
    int8_t L[32] = {};
    float scale = iq_search_scale(g, kSearch, xval, weight, waux, max, L);
    if (scale < 0) {  // llama.cpp: "should never happen"; stored scales are unsigned
      scale = -scale;
      for (uint8_t& s : signs) s = static_cast<uint8_t>(~s & 127);
    }
    for (int k = 0; k < 8; ++k) {
      int u = 0;
      for (int i = 0; i < 4; ++i) u |= L[4 * k + i] << (3 * i);
      const int index = g.grid_index(u);
      if (index < 0) throw std::logic_error("quantize_row_iq3_xxs: levels off the grid");
      q3[8 * ib + k] = static_cast<uint8_t>(index);
    }
    scales_and_signs[ib] = signs[0] | (signs[1] << 7) | (signs[2] << 14) | (signs[3] << 21);
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  y.d = to_f16(0.f);
  std::memset(y.qs, 0, sizeof(y.qs));
  if (!max_scale) return;
  const float d = max_scale / 31;
  y.d = to_f16(d * 1.0125f);  // llama.cpp's "small improvement via this fudge factor"
  const float id = 1 / d;
  for (int ib = 0; ib < 8; ++ib) {
    const int l = std::clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
    scales_and_signs[ib] |= static_cast<uint32_t>(l) << 28;
  }
  std::memcpy(y.qs, q3, 64);
  std::memcpy(y.qs + 64, scales_and_signs, sizeof(scales_and_signs));
}

}  // namespace

void quantize_row_iq3_xxs(const float* x, block_iq3_xxs* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_iq3_xxs", k, 256);
  const IqGridSearch& g = iq_grid_search("iq3_xxs");
  for (int64_t i = 0; i < nb; ++i) quantize_super_block(g, x + 256 * i, importance ? importance + 256 * i : nullptr, y[i]);
}

void dequantize_row_iq3_xxs(const block_iq3_xxs* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq3_xxs", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < 8; ++ib, qs += 8) {
      uint32_t aux;
      std::memcpy(&aux, x[i].qs + 64 + 4 * ib, sizeof(aux));
      const float db = d * (0.5f + (aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t signs = kSignsIQ2XS[(aux >> (7 * l)) & 127];
        const uint32_t grid[2] = {kIQ3XXSGrid[qs[2 * l]], kIQ3XXSGrid[qs[2 * l + 1]]};
        for (int j = 0; j < 8; ++j) {
          y[j] = db * static_cast<float>((grid[j / 4] >> (8 * (j % 4))) & 0xff) * (iq_sign(signs, j) ? -1.f : 1.f);
        }
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
