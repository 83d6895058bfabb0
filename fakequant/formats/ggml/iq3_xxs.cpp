#include "fakequant/formats/ggml/iq3_xxs.h"

#include <cstring>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {

void dequantize_row_iq3_xxs(const block_iq3_xxs* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq3_xxs", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    const uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < 8; ++ib, qs += 8) {
      uint32_t aux;
      std::memcpy(&aux, x[i].qs + 64 + 4 * ib, sizeof(aux));
      const float db = d * (0.5f + (aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t signs = kSignsIQ2XS[(aux >> (7 * l)) & 127];
        const uint32_t grid[2] = {kIQ3XXSGrid[qs[2 * l]], kIQ3XXSGrid[qs[2 * l + 1]]};
        for (int j = 0; j < 8; ++j) {
          y[j] = db * static_cast<float>((grid[j / 4] >> (8 * (j % 4))) & 0xff) * (iq_sign(signs, j) ? -1.f : 1.f);
        }
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
