#include "fakequant/formats/ggml/iq3_s.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grid_search.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {
namespace {

// quantize_row_iq3_s_impl (block size 32): levels 0..7, 19 trials (15 + 0.2·is)/max, the final rounding
// over every group.
constexpr IqScaleSearch kSearch{32, 8, 9, 0.2f, false, true};

// One block of 32 into qs/qh/signs; returns its scale (0 for an all-zero block, left as zeros). Its qs and
// signs go to slot `slot`, the count of non-empty blocks before it: llama.cpp advances those pointers only
// after a non-empty block (qh is indexed by the block itself), so a block after an all-zero one lands
// one slot early.
float quantize_block(const IqGridSearch& g, const float* xb, const float* qw, float sigma2, int ib, int slot,
                     block_iq3_s& y) {
  float weight[32], waux[32], xval[32];
  importance_weights(xb, qw, sigma2, 32, weight);
  for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
  uint8_t signs[4] = {};
  for (int i = 0; i < 32; ++i) {
    xval[i] = xb[i] >= 0 ? xb[i] : -xb[i];
    if (xb[i] < 0) signs[i / 8] = static_cast<uint8_t>(signs[i / 8] | (1 << (i % 8)));
  }
  const float max = *std::max_element(xval, xval + 32);
  if (!max) return 0;
  int8_t L[32] = {};
  float scale = iq_search_scale(g, kSearch, xval, weight, waux, max, L);
  if (scale < 0) {  // llama.cpp: "should never happen"; stored scales are unsigned
    scale = -scale;
    for (uint8_t& s : signs) s = static_cast<uint8_t>(~s);
  }
  for (int k = 0; k < 8; ++k) {
    int u = 0;
    for (int i = 0; i < 4; ++i) u |= L[4 * k + i] << (3 * i);
    const int index = g.grid_index(u);
    if (index < 0) throw std::logic_error("quantize_row_iq3_s: levels off the grid");
    y.qs[8 * slot + k] = static_cast<uint8_t>(index & 255);
    y.qh[ib] = static_cast<uint8_t>(y.qh[ib] | ((index >> 8) << k));
  }
  std::memcpy(y.signs + 4 * slot, signs, 4);
  return scale;
}

void quantize_super_block(const IqGridSearch& g, const float* x, const float* qw, block_iq3_s& y) {
  std::memset(&y, 0, sizeof(y));
  const float sigma2 = twice_mean_square(x, 256);
  float scales[8], max_scale = 0;
  int slot = 0;
  for (int ib = 0; ib < 8; ++ib) {
    const float* xb = x + 32 * ib;
    const bool empty = std::all_of(xb, xb + 32, [](float v) { return v == 0; });
    scales[ib] = empty ? 0 : quantize_block(g, xb, qw ? qw + 32 * ib : nullptr, sigma2, ib, slot++, y);
    max_scale = std::max(max_scale, scales[ib]);
  }
  if (!max_scale) return;
  const float d = max_scale / 31;
  y.d = to_f16(d * 1.033f);  // llama.cpp's fudge factor for IQ3_S
  const float id = 1 / d;
  for (int ib = 0; ib < 8; ib += 2) {
    const int l1 = std::clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
    const int l2 = std::clamp(nearest_int(0.5f * (id * scales[ib + 1] - 1)), 0, 15);
    y.scales[ib / 2] = static_cast<uint8_t>(l1 | (l2 << 4));
  }
}

}  // namespace

void quantize_row_iq3_s(const float* x, block_iq3_s* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_iq3_s", k, 256);
  const IqGridSearch& g = iq_grid_search("iq3_s");
  for (int64_t i = 0; i < nb; ++i) quantize_super_block(g, x + 256 * i, importance ? importance + 256 * i : nullptr, y[i]);
}

void dequantize_row_iq3_s(const block_iq3_s* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq3_s", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db = d * (1 + 2 * ((x[i].scales[ib / 2] >> (4 * (ib % 2))) & 0xf));
      const uint8_t* qs = x[i].qs + 8 * ib;
      const uint8_t qh = x[i].qh[ib];
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint32_t grid[2] = {kIQ3SGrid[qs[2 * l] | ((qh << (8 - 2 * l)) & 256)],
                                  kIQ3SGrid[qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256)]};
        const uint8_t signs = x[i].signs[4 * ib + l];
        for (int j = 0; j < 8; ++j) {
          y[j] = db * static_cast<float>((grid[j / 4] >> (8 * (j % 4))) & 0xff) * (iq_sign(signs, j) ? -1.f : 1.f);
        }
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
