#include "fakequant/formats/ggml/q8_0.h"

#include <algorithm>
#include <cmath>

#include "fakequant/formats/ggml/block_common.h"

namespace qforge::fakequant::ggml {

void quantize_row_q8_0_ref(const float* x, block_q8_0* y, int64_t k, const float* /*importance*/) {
  const int64_t nb = checked_block_count("quantize_row_q8_0", k, kQ8_0BlockElements);
  for (int64_t i = 0; i < nb; ++i, x += kQ8_0BlockElements) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = to_f16(d);
    for (int j = 0; j < 32; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void dequantize_row_q8_0(const block_q8_0* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q8_0", k, kQ8_0BlockElements);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int j = 0; j < 32; ++j) *y++ = x[i].qs[j] * d;
  }
}

}  // namespace qforge::fakequant::ggml
