#include "fakequant/formats/ggml/q4_0.h"

#include <algorithm>
#include <cmath>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

void quantize_block_amax(const float* x, block_q4_0& b) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); max = x[j]; }
  }
  const float d = max / -8;
  const float id = d ? 1.0f / d : 0.0f;
  b.d = to_f16(d);
  for (int j = 0; j < 16; ++j) {
    // (int8_t) truncates toward zero, as the C cast in quantize_row_q4_0_ref.
    const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
    const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 8.5f)));
    b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

}  // namespace

void quantize_row_q4_0_ref(const float* x, block_q4_0* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_q4_0", k, 32);
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i) quantize_block_amax(x + 32 * i, y[i]);
    return;
  }
  for_each_weighted_block32(x, importance, nb, [&](int64_t i, const float* xb, const float* weight) {
    int8_t L[32];
    y[i].d = to_f16(make_qx_quants(32, 8, xb, L, weight));
    for (int j = 0; j < 16; ++j) y[i].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  });
}

void dequantize_row_q4_0(const block_q4_0* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q4_0", k, 32);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = from_f16(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = ((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

}  // namespace qforge::fakequant::ggml
