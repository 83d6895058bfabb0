#include "fakequant/formats/ggml/iq3_s.h"

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {

void dequantize_row_iq3_s(const block_iq3_s* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq3_s", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db = d * (1 + 2 * ((x[i].scales[ib / 2] >> (4 * (ib % 2))) & 0xf));
      const uint8_t* qs = x[i].qs + 8 * ib;
      const uint8_t qh = x[i].qh[ib];
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint32_t grid[2] = {kIQ3SGrid[qs[2 * l] | ((qh << (8 - 2 * l)) & 256)],
                                  kIQ3SGrid[qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256)]};
        const uint8_t signs = x[i].signs[4 * ib + l];
        for (int j = 0; j < 8; ++j) {
          y[j] = db * static_cast<float>((grid[j / 4] >> (8 * (j % 4))) & 0xff) * (iq_sign(signs, j) ? -1.f : 1.f);
        }
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
