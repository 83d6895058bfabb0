#include "fakequant/formats/ggml/iq2_xxs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grid_search.h"
#include "fakequant/formats/ggml/iq_grids.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

constexpr int kMaxQ = 3;  // levels 0..2 of the IQ2 grids

// Levels of the four groups at inverse scale id, moved onto the grid (neighbour search at `scale`).
void round_to_grid(const IqGridSearch& g, const float* xval, const float* waux, float id, float scale, int8_t* L) {
  for (int k = 0; k < 4; ++k) iq_round_group(g, kMaxQ, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k);
}

// The block's scale and grid levels L, or nullopt for a block llama.cpp leaves empty (max below
// kGroupMaxEps or no positive start scale): make_qp_quants start, 13 trial inverse scales
// (5 + 0.1·is)/(3·scale), then a final rounding at the best one.
std::optional<float> search_block(const IqGridSearch& g, const float* xval, const float* weight, const float* waux,
                                  int8_t* L) {
  float max = xval[0];
  for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
  if (max < kGroupMaxEps) return std::nullopt;
  float scale = make_qp_quants(32, kMaxQ + 1, xval, reinterpret_cast<uint8_t*>(L), weight);
  const float eff_max = scale * kMaxQ;
  if (eff_max <= 0) return std::nullopt;
  float best = 0, sumqx, sumq2;
  int8_t Laux[32];
  for (int is = -6; is <= 6; ++is) {
    const float id = (2 * kMaxQ - 1 + is * 0.1f) / eff_max;
    round_to_grid(g, xval, waux, id, 1 / id, Laux);
    iq_fit(32, xval, weight, Laux, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::memcpy(L, Laux, 32);
    }
  }
  if (scale > 0) {
    round_to_grid(g, xval, waux, 1 / scale, scale, L);
    iq_fit(32, xval, weight, L, sumqx, sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  return scale;
}

void quantize_super_block(const IqGridSearch& g, const float* x, const float* qw, block_iq2_xxs& y) {
  const float sigma2 = mean_square(x, 256);
  uint32_t q2[16] = {};
  float scales[8];
  float max_scale = 0;
  for (int ib = 0; ib < 8; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32], waux[32], xval[32];
    importance_weights(xb, qw + 32 * ib, sigma2, 32, weight);
    for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
    uint8_t signs[4];
    iq_fold_signs(xb, weight, 4, xval, signs);
    int8_t L[32];
    const std::optional<float> searched = search_block(g, xval, weight, waux, L);
    scales[ib] = 0;
    if (!searched) continue;  // grid index 0, signs 0
    float scale = *searched;
    if (scale < 0) {  // llama.cpp: "should never happen"; stored scales are unsigned
      scale = -scale;
      for (uint8_t& s : signs) s = static_cast<uint8_t>(~s & 127);
    }
    for (int k = 0; k < 4; ++k) {
      int u = 0;
      for (int i = 0; i < 8; ++i) u |= L[8 * k + i] << (2 * i);
      const int index = g.grid_index(u);
      if (index < 0) throw std::logic_error("quantize_row_iq2_xxs: levels off the grid");
      q2[2 * ib] |= static_cast<uint32_t>(index) << (8 * k);
      q2[2 * ib + 1] |= static_cast<uint32_t>(signs[k]) << (7 * k);
    }
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  y.d = to_f16(0.f);
  std::memset(y.qs, 0, sizeof(y.qs));
  if (!max_scale) return;
  const float d = max_scale / 31;
  y.d = to_f16(d);
  const float id = 1 / d;
  for (int ib = 0; ib < 8; ++ib) {
    const int l = std::clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
    q2[2 * ib + 1] |= static_cast<uint32_t>(l) << 28;
  }
  std::memcpy(y.qs, q2, sizeof(q2));
}

}  // namespace

void quantize_row_iq2_xxs(const float* x, block_iq2_xxs* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_iq2_xxs", k, 256);
  if (importance == nullptr) {
    throw std::invalid_argument("quantize_row_iq2_xxs: IQ2_XXS needs an importance matrix (llama.cpp refuses "
                                "without one, ggml_quantize_requires_imatrix)");
  }
  const IqGridSearch& g = iq_grid_search("iq2_xxs");
  for (int64_t i = 0; i < nb; ++i) quantize_super_block(g, x + 256 * i, importance + 256 * i, y[i]);
}

void dequantize_row_iq2_xxs(const block_iq2_xxs* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq2_xxs", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      uint32_t aux[2];
      std::memcpy(aux, x[i].qs + 4 * ib, sizeof(aux));
      const float db = d * (0.5f + (aux[1] >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t grid = kIQ2XXSGrid[(aux[0] >> (8 * l)) & 0xff];
        const uint8_t signs = kSignsIQ2XS[(aux[1] >> (7 * l)) & 127];
        for (int j = 0; j < 8; ++j) y[j] = db * static_cast<float>((grid >> (8 * j)) & 0xff) * (iq_sign(signs, j) ? -1.f : 1.f);
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
