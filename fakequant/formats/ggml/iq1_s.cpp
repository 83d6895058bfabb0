#include "fakequant/formats/ggml/iq1_s.h"

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {

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
