#include "fakequant/formats/ggml/iq1_s.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grid_search.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {
namespace {

// The three values of a block shifted by +δ (x_p) or −δ (x_m), quantize_row_iq1_s_impl.
constexpr float kXp[3] = {-1 + kIQ1Delta, kIQ1Delta, 1 + kIQ1Delta};
constexpr float kXm[3] = {-1 - kIQ1Delta, -kIQ1Delta, 1 - kIQ1Delta};
constexpr float kGroupMaxEpsIQ1S = 1e-12f;  // GROUP_MAX_EPS_IQ1_S

struct Split {
  int i1 = -1, i2 = -1, shift = 0;
  float scale = 0;
};

// The exact weighted least-squares split of the sorted block into levels −1, 0, 1 (the first i1 values,
// the next i2 − i1, the rest), for both shifts, from prefix sums of w·x and w.
Split best_split(const float* sumx, const float* sumw, float max) {
  Split best;
  best.scale = max;
  float best_score = -FLT_MAX;
  for (int i1 = 0; i1 <= 32; ++i1) {
    for (int i2 = i1; i2 <= 32; ++i2) {
      for (const int shift : {1, -1}) {
        const float* v = shift == 1 ? kXp : kXm;
        const float sumqx = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] + (sumx[32] - sumx[i2]) * v[2];
        const float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] + (sumw[i2] - sumw[i1]) * v[1] * v[1] +
                            (sumw[32] - sumw[i2]) * v[2] * v[2];
        if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
          best.scale = sumqx / sumq2;
          best_score = best.scale * sumqx;
          best.i1 = i1, best.i2 = i2, best.shift = shift;
        }
      }
    }
  }
  return best;
}

// One block of 32: its grid indices, scale and shift, or false for a block llama.cpp leaves empty.
bool quantize_block(const IqGridSearch& g, const float* xb, const float* weight, uint16_t index[4], float& scale,
                    int& shift) {
  float max = std::fabs(xb[0]);
  for (int i = 1; i < 32; ++i) max = std::max(max, std::fabs(xb[i]));
  if (max < kGroupMaxEpsIQ1S) return false;
  int order[32];
  iq1_sorted_order(xb, 32, order);
  float sumx[33] = {0}, sumw[33] = {0};
  for (int j = 0; j < 32; ++j) {
    sumx[j + 1] = sumx[j] + weight[order[j]] * xb[order[j]];
    sumw[j + 1] = sumw[j] + weight[order[j]];
  }
  const Split split = best_split(sumx, sumw, max);
  if (split.i1 < 0 || split.i2 < 0 || split.shift == 0) return false;
  int8_t L[32];
  for (int j = 0; j < 32; ++j) L[order[j]] = static_cast<int8_t>(j < split.i1 ? 0 : j < split.i2 ? 1 : 2);
  scale = split.scale, shift = split.shift;
  if (scale < 0) {
    for (int8_t& l : L) l = static_cast<int8_t>(2 - l);
    scale = -scale, shift = -shift;
  }
  const float* xx = shift == 1 ? kXp : kXm;
  bool all_on_grid = true;
  for (int k = 0; k < 4; ++k) {
    int u = 0;
    for (int j = 0; j < 8; ++j) u |= L[8 * k + j] << (2 * j);
    int grid_index = g.grid_index(u);
    if (grid_index < 0) {
      all_on_grid = false;
      grid_index = iq1_best_neighbour(g, u, xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k);
    }
    index[k] = static_cast<uint16_t>(grid_index);
  }
  if (all_on_grid) return true;
  float sumqx = 0, sumq2 = 0;
  for (int k = 0; k < 4; ++k) {
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

void quantize_super_block(const IqGridSearch& g, const float* x, const float* qw, block_iq1_s& y) {
  y.d = to_f16(0.f);
  std::memset(y.qs, 0, sizeof(y.qs));
  std::memset(y.qh, 0, sizeof(y.qh));
  const float sigma2 = twice_mean_square(x, 256);
  float scales[8], max_scale = 0;
  int shifts[8];
  for (int ib = 0; ib < 8; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32];
    importance_weights(xb, qw + 32 * ib, sigma2, 32, weight);
    uint16_t index[4];
    scales[ib] = 0, shifts[ib] = 1;
    if (!quantize_block(g, xb, weight, index, scales[ib], shifts[ib])) continue;
    uint16_t h = 0;
    for (int k = 0; k < 4; ++k) {
      y.qs[4 * ib + k] = static_cast<uint8_t>(index[k] & 255);
      h = static_cast<uint16_t>(h | ((index[k] >> 8) << (3 * k)));
    }
    y.qh[ib] = h;
    max_scale = std::max(max_scale, scales[ib]);
  }
  if (!max_scale) return;
  const float d = max_scale / 15;
  y.d = to_f16(d * 1.125f);  // llama.cpp's fudge factor for IQ1_S
  const float id = 1 / d;
  for (int ib = 0; ib < 8; ++ib) {
    int l = std::clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
    if (shifts[ib] == -1) l |= 8;
    y.qh[ib] = static_cast<uint16_t>(y.qh[ib] | (l << 12));
  }
}

}  // namespace

void quantize_row_iq1_s(const float* x, block_iq1_s* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_iq1_s", k, 256);
  if (importance == nullptr) {
    throw std::invalid_argument("quantize_row_iq1_s: IQ1_S needs an importance matrix (llama.cpp refuses "
                                "without one, ggml_quantize_requires_imatrix)");
  }
  const IqGridSearch& g = iq_grid_search("iq1_s");
  for (int64_t i = 0; i < nb; ++i) quantize_super_block(g, x + 256 * i, importance + 256 * i, y[i]);
}

void dequantize_row_iq1_s(const block_iq1_s* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq1_s", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const uint16_t qh = x[i].qh[ib];
      const float dl = d * (2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -kIQ1Delta : kIQ1Delta;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t grid = kIQ1SGrid[x[i].qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
        for (int j = 0; j < 8; ++j) y[j] = dl * (static_cast<int8_t>((grid >> (8 * j)) & 0xff) + delta);
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
