#include "fakequant/formats/ggml/iq2_xs.h"

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {

void dequantize_row_iq2_xs(const block_iq2_xs* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq2_xs", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib] & 0xf)) * 0.25f, d * (0.5f + (x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = x[i].qs[4 * ib + l];
        const uint64_t grid = kIQ2XSGrid[q & 511];
        const uint8_t signs = kSignsIQ2XS[q >> 9];
        for (int j = 0; j < 8; ++j) {
          y[j] = db[l / 2] * static_cast<float>((grid >> (8 * j)) & 0xff) * (iq_sign(signs, j) ? -1.f : 1.f);
        }
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
