#include "fakequant/formats/ggml/q5_0.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

// Levels L[j] in [0, 31]: low 4 bits to qs nibbles, 5th bit to qh bit j.
void pack_q5_0(const uint8_t* L, block_q5_0& b) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
    qh |= ((L[j] & 0x10u) >> 4) << j;
    qh |= ((L[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  for (int byte = 0; byte < 4; ++byte) b.qh[byte] = static_cast<uint8_t>(qh >> (8 * byte));
}

void quantize_block_amax(const float* x, block_q5_0& b) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); max = x[j]; }
  }
  const float d = max / -16;
  const float id = d ? 1.0f / d : 0.0f;
  b.d = to_f16(d);
  uint8_t L[32];
  for (int j = 0; j < 32; ++j) {
    L[j] = static_cast<uint8_t>(std::min(31, static_cast<int>(static_cast<int8_t>(x[j] * id + 16.5f))));
  }
  pack_q5_0(L, b);
}

}  // namespace

void quantize_row_q5_0_ref(const float* x, block_q5_0* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_q5_0", k, kQ5_0BlockElements);
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i) quantize_block_amax(x + 32 * i, y[i]);
    return;
  }
  for_each_weighted_block32(x, importance, nb, [&](int64_t i, const float* xb, const float* weight) {
    int8_t L[32];
    const float d = make_qx_quants(32, 16, xb, L, weight);
    y[i].d = to_f16(d);
    uint8_t levels[32];
    for (int j = 0; j < 32; ++j) levels[j] = static_cast<uint8_t>(L[j]);
    pack_q5_0(levels, y[i]);
  });
}

void dequantize_row_q5_0(const block_q5_0* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q5_0", k, kQ5_0BlockElements);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = from_f16(x[i].d);
    uint32_t qh = 0;
    for (int byte = 0; byte < 4; ++byte) qh |= static_cast<uint32_t>(x[i].qh[byte]) << (8 * byte);
    for (int j = 0; j < 16; ++j) {
      const int x0 = ((x[i].qs[j] & 0x0F) | (((qh >> j) & 1u) << 4)) - 16;
      const int x1 = ((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
      y[j] = x0 * d;
      y[j + 16] = x1 * d;
    }
  }
}

}  // namespace qforge::fakequant::ggml
