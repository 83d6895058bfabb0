#include "fakequant/formats/ggml/tq1_0.h"

#include <cmath>

#include "fakequant/formats/ggml/block_common.h"

namespace qforge::fakequant::ggml {
namespace {

// The byte of `count` trits of x[0], x[stride], ... (t + 1 in 0..2, first most significant), padded to
// five trits with zeros, as ceil(q·256/243) (quantize_row_tq1_0_ref).
uint8_t pack_trits(const float* x, int stride, int count, float id) {
  int q = 0;
  for (int n = 0; n < count; ++n) q = 3 * q + static_cast<int>(std::lround(x[n * stride] * id)) + 1;
  for (int n = count; n < 5; ++n) q *= 3;
  return static_cast<uint8_t>((q * 256 + 242) / 243);
}

// Trit n of a packed byte, as −1, 0, 1 (dequantize_row_tq1_0).
int unpack_trit(uint8_t byte, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t q = static_cast<uint8_t>(byte * kPow3[n]);
  return ((q * 3) >> 8) - 1;
}

}  // namespace

void quantize_row_tq1_0(const float* x, block_tq1_0* y, int64_t k, const float* /*importance*/) {
  const int64_t nb = checked_block_count("quantize_row_tq1_0", k, 256);
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    float amax = 0;
    for (int j = 0; j < 256; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float id = amax ? 1.0f / amax : 0.0f;
    y[i].d = to_f16(amax);
    for (int m = 0; m < 32; ++m) y[i].qs[m] = pack_trits(x + m, 32, 5, id);
    for (int m = 0; m < 16; ++m) y[i].qs[32 + m] = pack_trits(x + 160 + m, 16, 5, id);
    for (int m = 0; m < 4; ++m) y[i].qh[m] = pack_trits(x + 240 + m, 4, 4, id);
  }
}

void dequantize_row_tq1_0(const block_tq1_0* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_tq1_0", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int n = 0; n < 5; ++n) {
      for (int m = 0; m < 32; ++m) y[m + 32 * n] = static_cast<float>(unpack_trit(x[i].qs[m], n)) * d;
      for (int m = 0; m < 16; ++m) y[160 + m + 16 * n] = static_cast<float>(unpack_trit(x[i].qs[32 + m], n)) * d;
    }
    for (int n = 0; n < 4; ++n) {
      for (int m = 0; m < 4; ++m) y[240 + m + 4 * n] = static_cast<float>(unpack_trit(x[i].qh[m], n)) * d;
    }
    y += 256;
  }
}

}  // namespace qforge::fakequant::ggml
