#include "fakequant/formats/ggml/iq1_m.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq1_s.h"
#include "fakequant/formats/ggml/iq_grid_search.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {
namespace {

constexpr float kXp[3] = {-1 + kIQ1Delta, kIQ1Delta, 1 + kIQ1Delta};
constexpr float kXm[3] = {-1 - kIQ1Delta, -kIQ1Delta, 1 - kIQ1Delta};
constexpr float kGroupMaxEpsIQ1M = 1e-7f;  // GROUP_MAX_EPS_IQ1_M
constexpr uint8_t kShiftMasks[4] = {0x00, 0x80, 0x08, 0x88};

// The shifted values of group k (0, 1) of a block of 16 under shift pattern `shifts` (0: +,+ 1: +,−
// 2: −,+ 3: −,−).
const float* shifted_values(int shifts, int k) {
  return (k == 0 ? shifts < 2 : shifts % 2 == 0) ? kXp : kXm;
}

struct Split {
  int i1 = -1, i2 = -1, shifts = -1;
  float scale = 0;
};

// quantize_row_iq1_m_impl's exhaustive split with a shift per half of the block: prefix sums of w·x and w
// per half over the sorted order, each split scored for the four shift patterns.
Split best_split(const float* xb, const float* weight, const int* order, float max) {
  float px[2][17] = {}, pw[2][17] = {};
  for (int j = 0; j < 16; ++j) {
    const int i = order[j], h = i < 8 ? 0 : 1;
    px[h][j + 1] = px[h][j] + weight[i] * xb[i];
    px[1 - h][j + 1] = px[1 - h][j];
    pw[h][j + 1] = pw[h][j] + weight[i];
    pw[1 - h][j + 1] = pw[1 - h][j];
  }
  const float txs[2] = {px[0][16], px[1][16]}, tws[2] = {pw[0][16], pw[1][16]};
  const float p2 = kXp[2], m2 = kXm[2];
  const float cp1 = kXp[0] * kXp[0] - kXp[1] * kXp[1], cp2 = kXp[1] * kXp[1] - kXp[2] * kXp[2];
  const float cm1 = kXm[0] * kXm[0] - kXm[1] * kXm[1], cm2 = kXm[1] * kXm[1] - kXm[2] * kXm[2];
  Split best;
  best.scale = max;
  float best_score = -FLT_MAX;
  for (int i1 = 0; i1 <= 16; ++i1) {
    for (int i2 = i1; i2 <= 16; ++i2) {
      float qx_p[2], qx_m[2], q2_p[2], q2_m[2];
      for (int h = 0; h < 2; ++h) {
        const float sx = px[h][i1] + px[h][i2];
        qx_p[h] = txs[h] * p2 - sx;
        qx_m[h] = txs[h] * m2 - sx;
        q2_p[h] = tws[h] * p2 * p2 + pw[h][i1] * cp1 + pw[h][i2] * cp2;
        q2_m[h] = tws[h] * m2 * m2 + pw[h][i1] * cm1 + pw[h][i2] * cm2;
      }
      const float sumqx[4] = {qx_p[0] + qx_p[1], qx_p[0] + qx_m[1], qx_m[0] + qx_p[1], qx_m[0] + qx_m[1]};
      const float sumq2[4] = {q2_p[0] + q2_p[1], q2_p[0] + q2_m[1], q2_m[0] + q2_p[1], q2_m[0] + q2_m[1]};
      for (int k = 0; k < 4; ++k) {
        if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
          best.scale = sumqx[k] / sumq2[k];
          best_score = best.scale * sumqx[k];
          best.i1 = i1, best.i2 = i2, best.shifts = k;
        }
      }
    }
  }
  return best;
}

// One block of 16: its two grid indices, scale and shift pattern, or false for a block left empty.
bool quantize_block(const IqGridSearch& g, const float* xb, const float* weight, uint16_t index[2], float& scale,
                    int& shifts) {
  float max = std::fabs(xb[0]);
  for (int i = 1; i < 16; ++i) max = std::max(max, std::fabs(xb[i]));
  if (max < kGroupMaxEpsIQ1M) return false;
  int order[16];
  iq1_sorted_order(xb, 16, order);
  const Split split = best_split(xb, weight, order, max);
  if (split.i1 < 0 || split.i2 < 0 || split.shifts < 0) return false;
  int8_t L[16];
  for (int j = 0; j < 16; ++j) L[order[j]] = static_cast<int8_t>(j < split.i1 ? 0 : j < split.i2 ? 1 : 2);
  scale = split.scale, shifts = split.shifts;
  if (scale < 0) {
    for (int8_t& l : L) l = static_cast<int8_t>(2 - l);
    scale = -scale, shifts = 3 - shifts;
  }
  bool all_on_grid = true;
  for (int k = 0; k < 2; ++k) {
    int u = 0;
    for (int j = 0; j < 8; ++j) u |= L[8 * k + j] << (2 * j);
    int grid_index = g.grid_index(u);
    if (grid_index < 0) {
      all_on_grid = false;
      grid_index = iq1_best_neighbour(g, u, xb + 8 * k, weight + 8 * k, scale, shifted_values(shifts, k), L + 8 * k);
    }
    index[k] = static_cast<uint16_t>(grid_index);
  }
  if (all_on_grid) return true;
  float sumqx = 0, sumq2 = 0;
  for (int k = 0; k < 2; ++k) {
    const float* xx = shifted_values(shifts, k);
    const int8_t* p = g.point(index[k]);
    for (int j = 0; j < 8; ++j) {
      const float q = xx[(p[j] - 1) / 2];
      sumqx += weight[8 * k + j] * q * xb[8 * k + j];
      sumq2 += weight[8 * k + j] * q * q;
    }
  }
  if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
  return true;
}

// The 3-bit block scales, the shift bits and the super-block d (a least-squares fit over all 256 values
// with the chosen levels and block scales, times llama.cpp's fudge factor 1.1125) into y.
void store_scales(const IqGridSearch& g, const float* x, const float* qw, float sigma2, const float* scales,
                  const int* shifts, float max_scale, block_iq1_m& y) {
  uint16_t sc[4] = {};
  const float id = 1 / (max_scale / 15);
  float sumqx = 0, sumq2 = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const int l = std::clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
    sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | (l << (3 * (ib % 4))));
    y.qh[ib] = static_cast<uint8_t>(y.qh[ib] | kShiftMasks[shifts[ib]]);
    const float* xb = x + 16 * ib;
    float weight[16];
    importance_weights(xb, qw ? qw + 16 * ib : nullptr, sigma2, 16, weight);
    for (int k = 0; k < 2; ++k) {
      const float* xx = shifted_values(shifts[ib], k);
      const int8_t* p = g.point(y.qs[2 * ib + k] + ((y.qh[ib] << (8 - 4 * k)) & 0x700));
      for (int j = 0; j < 8; ++j) {
        const float q = xx[(p[j] - 1) / 2] * (2 * l + 1);
        sumqx += weight[8 * k + j] * q * xb[8 * k + j];
        sumq2 += weight[8 * k + j] * q * q;
      }
    }
  }
  float d = max_scale / 15;
  if (sumq2 > 0) d = sumqx / sumq2;
  const uint16_t d16 = to_f16(d * 1.1125f);
  sc[0] = static_cast<uint16_t>(sc[0] | ((d16 & 0x000f) << 12));
  sc[1] = static_cast<uint16_t>(sc[1] | ((d16 & 0x00f0) << 8));
  sc[2] = static_cast<uint16_t>(sc[2] | ((d16 & 0x0f00) << 4));
  sc[3] = static_cast<uint16_t>(sc[3] | (d16 & 0xf000));
  std::memcpy(y.scales, sc, sizeof(sc));
}

void quantize_super_block(const IqGridSearch& g, const float* x, const float* qw, block_iq1_m& y) {
  std::memset(&y, 0, sizeof(y));
  const float sigma2 = twice_mean_square(x, 256);
  float scales[16], max_scale = 0;
  int shifts[16];
  for (int ib = 0; ib < 16; ++ib) {
    const float* xb = x + 16 * ib;
    float weight[16];
    importance_weights(xb, qw ? qw + 16 * ib : nullptr, sigma2, 16, weight);
    uint16_t index[2];
    scales[ib] = 0, shifts[ib] = 0;
    if (!quantize_block(g, xb, weight, index, scales[ib], shifts[ib])) continue;
    y.qs[2 * ib] = static_cast<uint8_t>(index[0] & 255);
    y.qs[2 * ib + 1] = static_cast<uint8_t>(index[1] & 255);
    y.qh[ib] = static_cast<uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4));
    max_scale = std::max(max_scale, scales[ib]);
  }
  if (max_scale) store_scales(g, x, qw, sigma2, scales, shifts, max_scale, y);
}

}  // namespace

void quantize_row_iq1_m(const float* x, block_iq1_m* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_iq1_m", k, 256);
  const IqGridSearch& g = iq_grid_search("iq1_m");
  for (int64_t i = 0; i < nb; ++i) quantize_super_block(g, x + 256 * i, importance ? importance + 256 * i : nullptr, y[i]);
}

void dequantize_row_iq1_m(const block_iq1_m* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq1_m", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    uint16_t sc[4];
    std::memcpy(sc, x[i].scales, sizeof(sc));
    const uint16_t d16 = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    const float d = from_f16(d16);
    for (int ib = 0; ib < 8; ++ib) {
      const float dl[2] = {d * (2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1),
                           d * (2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1)};
      const uint8_t* qs = x[i].qs + 4 * ib;
      const uint8_t* qh = x[i].qh + 2 * ib;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t h = qh[l / 2];
        const int index = qs[l] | ((l % 2 == 0 ? h << 8 : h << 4) & 0x700);
        const float delta = h & (l % 2 == 0 ? 0x08 : 0x80) ? -kIQ1Delta : kIQ1Delta;
        const uint64_t grid = kIQ1SGrid[index];
        for (int j = 0; j < 8; ++j) y[j] = dl[l / 2] * (static_cast<int8_t>((grid >> (8 * j)) & 0xff) + delta);
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
