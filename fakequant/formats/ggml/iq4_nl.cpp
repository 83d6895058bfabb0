#include "fakequant/formats/ggml/iq4_nl.h"

#include <cmath>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

constexpr int kNtry = 7;

struct Fit {
  float sumqx = 0;
  float sumq2 = 0;
};

Fit fit_at(const float* x, const float* weight, float id) {
  Fit f;
  for (int j = 0; j < 32; ++j) {
    const float q = kValuesIQ4NL[best_index_iq4nl(id * x[j])];
    f.sumqx += weight[j] * q * x[j];
    f.sumq2 += weight[j] * q * q;
  }
  return f;
}

// The block's f32 scale d (0 for an all-zero block).
float search_scale(const float* x, const float* weight) {
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
  }
  if (amax < kGroupMaxEps) return 0.f;
  const float d0 = -max / kValuesIQ4NL[0];
  const Fit f0 = fit_at(x, weight, 1 / d0);
  float d = f0.sumq2 > 0 ? f0.sumqx / f0.sumq2 : 0.f;
  float best = d * f0.sumqx;
  for (int itry = -kNtry; itry <= kNtry; ++itry) {
    const Fit f = fit_at(x, weight, (itry + kValuesIQ4NL[0]) / max);
    if (f.sumq2 > 0 && f.sumqx * f.sumqx > best * f.sumq2) {
      d = f.sumqx / f.sumq2;
      best = d * f.sumqx;
    }
  }
  return d;
}

void quantize_block(const float* x, const float* qw, block_iq4_nl& b) {
  float sigma2 = 0;
  for (int j = 0; j < 32; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / 32;
  float weight[32];
  for (int j = 0; j < 32; ++j) weight[j] = qw ? qw[j] * std::sqrt(sigma2 + x[j] * x[j]) : x[j] * x[j];
  const float d = search_scale(x, weight);
  b.d = to_f16(d);
  const float id = d ? 1 / d : 0;
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>(best_index_iq4nl(id * x[j]) | (best_index_iq4nl(id * x[j + 16]) << 4));
  }
}

}  // namespace

int best_index_iq4nl(float v) {
  // Sorted table: v picks level i once it reaches the midpoint of K[i-1] and K[i]; doubling v keeps
  // the comparison exact. Ties go to the larger level.
  const float v2 = v + v;
  int idx = 0;
  for (int step = 8; step > 0; step >>= 1) {
    const int j = idx + step;
    idx = (v2 >= static_cast<float>(kValuesIQ4NL[j - 1] + kValuesIQ4NL[j])) ? j : idx;
  }
  return idx;
}

void quantize_row_iq4_nl_ref(const float* x, block_iq4_nl* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_iq4_nl", k, kIQ4NLBlockElements);
  for (int64_t i = 0; i < nb; ++i) quantize_block(x + 32 * i, importance ? importance + 32 * i : nullptr, y[i]);
}

void dequantize_row_iq4_nl(const block_iq4_nl* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq4_nl", k, kIQ4NLBlockElements);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = from_f16(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * kValuesIQ4NL[x[i].qs[j] & 0xF];
      y[j + 16] = d * kValuesIQ4NL[x[i].qs[j] >> 4];
    }
  }
}

}  // namespace qforge::fakequant::ggml
