#include "fakequant/formats/ggml/q4_1.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

void quantize_block_minmax(const float* x, block_q4_1& b) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < 32; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / 15;
  const float id = d ? 1.0f / d : 0.0f;
  b.d = to_f16(d);
  b.m = to_f16(min);
  for (int j = 0; j < 16; ++j) {
    // (int8_t) truncates toward zero, as the C cast in quantize_row_q4_1_ref.
    const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - min) * id + 0.5f)));
    const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>((x[j + 16] - min) * id + 0.5f)));
    b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

}  // namespace

void quantize_row_q4_1_ref(const float* x, block_q4_1* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_q4_1", k, 32);
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i) quantize_block_minmax(x + 32 * i, y[i]);
    return;
  }
  for_each_weighted_block32(x, importance, nb, [&](int64_t i, const float* xb, const float* weight) {
    uint8_t L[32];
    float min;
    y[i].d = to_f16(make_qkx3_quants(32, 15, xb, weight, L, &min, -0.9f, 0.05f, 36));
    y[i].m = to_f16(-min);
    for (int j = 0; j < 16; ++j) y[i].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  });
}

void dequantize_row_q4_1(const block_q4_1* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q4_1", k, 32);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = from_f16(x[i].d);
    const float m = from_f16(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = (x[i].qs[j] & 0x0F) * d + m;
      y[j + 16] = (x[i].qs[j] >> 4) * d + m;
    }
  }
}

}  // namespace qforge::fakequant::ggml
