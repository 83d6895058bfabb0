#include "fakequant/formats/ggml/q5_1.h"

#include <cfloat>
#include <cmath>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

// Levels L[j] in [0, 31]: low 4 bits to qs nibbles, 5th bit to qh bit j (the layout of Q5_0).
void pack_q5_1(const uint8_t* L, block_q5_1& b) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
    qh |= ((L[j] & 0x10u) >> 4) << j;
    qh |= ((L[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  for (int byte = 0; byte < 4; ++byte) b.qh[byte] = static_cast<uint8_t>(qh >> (8 * byte));
}

void quantize_block_minmax(const float* x, block_q5_1& b) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < 32; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / 31;
  const float id = d ? 1.0f / d : 0.0f;
  b.d = to_f16(d);
  b.m = to_f16(min);
  uint8_t L[32];
  // (uint8_t) truncates toward zero; the largest value rounds to 31 (quantize_row_q5_1_ref has no clamp).
  for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
  pack_q5_1(L, b);
}

}  // namespace

void quantize_row_q5_1_ref(const float* x, block_q5_1* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_q5_1", k, 32);
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i) quantize_block_minmax(x + 32 * i, y[i]);
    return;
  }
  for_each_weighted_block32(x, importance, nb, [&](int64_t i, const float* xb, const float* weight) {
    uint8_t L[32];
    float min;
    y[i].d = to_f16(make_qkx3_quants(32, 31, xb, weight, L, &min, -0.9f, 0.05f, 36));
    y[i].m = to_f16(-min);
    pack_q5_1(L, y[i]);
  });
}

void dequantize_row_q5_1(const block_q5_1* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q5_1", k, 32);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = from_f16(x[i].d);
    const float m = from_f16(x[i].m);
    uint32_t qh = 0;
    for (int byte = 0; byte < 4; ++byte) qh |= static_cast<uint32_t>(x[i].qh[byte]) << (8 * byte);
    for (int j = 0; j < 16; ++j) {
      const int x0 = (x[i].qs[j] & 0x0F) | (((qh >> j) & 1u) << 4);
      const int x1 = (x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
      y[j] = x0 * d + m;
      y[j + 16] = x1 * d + m;
    }
  }
}

}  // namespace qforge::fakequant::ggml
