#include "fakequant/formats/ggml/iq2_s.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grid_search.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {
namespace {

// quantize_row_iq2_s_impl: blocks of 16, levels 0..2, 19 trials (5 + 0.1·is)/max (IQ2_XS's search).
constexpr IqScaleSearch kSearch{16, 3, 9, 0.1f, true, false};
constexpr float kGroupMaxEpsIQ2S = 1e-8f;  // GROUP_MAX_EPS_IQ2_S

// One block of 16 (groups 2ib, 2ib + 1) into qs/qh/signs; returns its scale, 0 for a block left empty.
float quantize_block(const IqGridSearch& g, const float* xb, const float* qw, float sigma2, int ib, block_iq2_s& y) {
  float weight[16], waux[16], xval[16];
  if (qw) {
    importance_weights(xb, qw, sigma2, 16, weight);
  } else {  // IQ2_S's own fallback: σ²/4 + x² rather than x²
    for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
  }
  for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
  uint8_t signs[2] = {};
  for (int i = 0; i < 16; ++i) {
    xval[i] = xb[i] >= 0 ? xb[i] : -xb[i];
    if (xb[i] < 0) signs[i / 8] = static_cast<uint8_t>(signs[i / 8] | (1 << (i % 8)));
  }
  const float max = *std::max_element(xval, xval + 16);
  if (max < kGroupMaxEpsIQ2S) return 0;
  int8_t L[16] = {};
  float scale = iq_search_scale(g, kSearch, xval, weight, waux, max, L);
  if (scale < 0) {  // llama.cpp: "should never happen"; stored scales are unsigned
    scale = -scale;
    for (uint8_t& s : signs) s = static_cast<uint8_t>(~s);
  }
  for (int k = 0; k < 2; ++k) {
    int u = 0;
    for (int i = 0; i < 8; ++i) u |= L[8 * k + i] << (2 * i);
    const int index = g.grid_index(u);
    if (index < 0) throw std::logic_error("quantize_row_iq2_s: levels off the grid");
    const int i8 = 2 * ib + k;
    y.qs[i8] = static_cast<uint8_t>(index & 255);
    y.qh[i8 / 4] = static_cast<uint8_t>(y.qh[i8 / 4] | ((index >> 8) << (2 * (i8 % 4))));
    y.qs[32 + i8] = signs[k];
  }
  return scale;
}

void quantize_super_block(const IqGridSearch& g, const float* x, const float* qw, block_iq2_s& y) {
  std::memset(&y, 0, sizeof(y));
  const float sigma2 = twice_mean_square(x, 256);
  float scales[16], max_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    scales[ib] = quantize_block(g, x + 16 * ib, qw ? qw + 16 * ib : nullptr, sigma2, ib, y);
    max_scale = std::max(max_scale, scales[ib]);
  }
  if (!max_scale) return;
  const float d = max_scale / 31;
  y.d = to_f16(d * 0.9875f);  // llama.cpp's fudge factor for IQ2_S
  const float id = 1 / d;
  for (int ib = 0; ib < 16; ++ib) {
    const int l = std::clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
    y.scales[ib / 2] = static_cast<uint8_t>(ib % 2 == 0 ? l : y.scales[ib / 2] | (l << 4));
  }
}

}  // namespace

void quantize_row_iq2_s(const float* x, block_iq2_s* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_iq2_s", k, 256);
  const IqGridSearch& g = iq_grid_search("iq2_s");
  for (int64_t i = 0; i < nb; ++i) quantize_super_block(g, x + 256 * i, importance ? importance + 256 * i : nullptr, y[i]);
}

void dequantize_row_iq2_s(const block_iq2_s* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq2_s", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* signs = x[i].qs + 32;
    for (int ib = 0; ib < 8; ++ib, qs += 4, signs += 4) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib] & 0xf)) * 0.25f, d * (0.5f + (x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t grid = kIQ2SGrid[qs[l] | ((x[i].qh[ib] << (8 - 2 * l)) & 0x300)];
        for (int j = 0; j < 8; ++j) {
          y[j] = db[l / 2] * static_cast<float>((grid >> (8 * j)) & 0xff) * (iq_sign(signs[l], j) ? -1.f : 1.f);
        }
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
