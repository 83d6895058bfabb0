#include "fakequant/formats/ggml/iq4_xs.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq4_nl.h"

namespace qforge::fakequant::ggml {
namespace {

// The 8 block scales of one super-block (quantize_row_iq4_nl_impl's first pass).
void block_scales(const float* x, const float* qw, float scales[8], bool vectorized) {
  const float sigma2 = twice_mean_square_iq4(x, 256);
  for (int ib = 0; ib < 8; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32];
    importance_weights(xb, qw ? qw + 32 * ib : nullptr, sigma2, 32, weight);
    scales[ib] = search_iq4_block_scale(xb, weight, vectorized);
  }
}

void quantize_super_block(const float* x, const float* qw, block_iq4_xs& b, bool vectorized) {
  float scales[8];
  block_scales(x, qw, scales, vectorized);
  float max_scale = 0, amax_scale = 0;
  for (const float s : scales) {
    if (std::fabs(s) > amax_scale) { amax_scale = std::fabs(s); max_scale = s; }
  }
  const float d = -max_scale / 32;  // -0.0f for an all-zero super-block, as llama.cpp stores it
  b.d = to_f16(d);
  const float id = d ? 1 / d : 0.f;
  b.scales_h = 0;
  std::memset(b.scales_l, 0, sizeof(b.scales_l));
  uint8_t L[256];
  for (int ib = 0; ib < 8; ++ib) {
    const int l = std::clamp(nearest_int(id * scales[ib]), -32, 31);
    const float dl = d * l;
    const float idl = dl ? 1 / dl : 0.f;
    for (int j = 0; j < 32; ++j) L[32 * ib + j] = static_cast<uint8_t>(best_index_iq4nl(idl * x[32 * ib + j]));
    const int stored = l + 32;
    b.scales_l[ib / 2] |= static_cast<uint8_t>((stored & 0xf) << (4 * (ib % 2)));
    b.scales_h |= static_cast<uint16_t>((stored >> 4) << (2 * ib));
  }
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 16; ++j) b.qs[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
  }
}

void quantize_row(const float* x, block_iq4_xs* y, int64_t k, const float* importance, bool vectorized) {
  const int64_t nb = checked_block_count("quantize_row_iq4_xs", k, 256);
  for (int64_t i = 0; i < nb; ++i)
    quantize_super_block(x + 256 * i, importance ? importance + 256 * i : nullptr, y[i], vectorized);
}

}  // namespace

void quantize_row_iq4_xs_ref(const float* x, block_iq4_xs* y, int64_t k, const float* importance) {
  quantize_row(x, y, k, importance, false);
}

void quantize_row_iq4_xs(const float* x, block_iq4_xs* y, int64_t k, const float* importance) {
  quantize_row(x, y, k, importance, true);
}

void dequantize_row_iq4_xs(const block_iq4_xs* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq4_xs", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int ib = 0; ib < 8; ++ib, y += 32) {
      const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x[i].scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * (ls - 32);
      const uint8_t* qs = x[i].qs + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * kValuesIQ4NL[qs[j] & 0xf];
        y[j + 16] = dl * kValuesIQ4NL[qs[j] >> 4];
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
