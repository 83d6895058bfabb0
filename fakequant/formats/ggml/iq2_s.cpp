#include "fakequant/formats/ggml/iq2_s.h"

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {

void dequantize_row_iq2_s(const block_iq2_s* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq2_s", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* signs = x[i].qs + 32;
    for (int ib = 0; ib < 8; ++ib, qs += 4, signs += 4) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib] & 0xf)) * 0.25f, d * (0.5f + (x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t grid = kIQ2SGrid[qs[l] | ((x[i].qh[ib] << (8 - 2 * l)) & 0x300)];
        for (int j = 0; j < 8; ++j) {
          y[j] = db[l / 2] * static_cast<float>((grid >> (8 * j)) & 0xff) * (iq_sign(signs[l], j) ? -1.f : 1.f);
        }
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
