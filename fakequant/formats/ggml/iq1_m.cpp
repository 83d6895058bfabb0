#include "fakequant/formats/ggml/iq1_m.h"

#include <cstring>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq1_s.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {

void dequantize_row_iq1_m(const block_iq1_m* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq1_m", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    uint16_t sc[4];
    std::memcpy(sc, x[i].scales, sizeof(sc));
    const uint16_t d16 = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    const float d = from_f16(d16);
    for (int ib = 0; ib < 8; ++ib) {
      const float dl[2] = {d * (2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1),
                           d * (2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1)};
      const uint8_t* qs = x[i].qs + 4 * ib;
      const uint8_t* qh = x[i].qh + 2 * ib;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t h = qh[l / 2];
        const int index = qs[l] | ((l % 2 == 0 ? h << 8 : h << 4) & 0x700);
        const float delta = h & (l % 2 == 0 ? 0x08 : 0x80) ? -kIQ1Delta : kIQ1Delta;
        const uint64_t grid = kIQ1SGrid[index];
        for (int j = 0; j < 8; ++j) y[j] = dl[l / 2] * (static_cast<int8_t>((grid >> (8 * j)) & 0xff) + delta);
      }
    }
  }
}

}  // namespace qforge::fakequant::ggml
