#include "fakequant/formats/bnb_fp4.h"

#include <cmath>

namespace qforge::fakequant {

const std::array<float, 16>& bnb_fp4_values() {
  static const std::array<float, 16> table = [] {
    // get_4bit_type("fp4"): data.div_(data.abs().max()), max = 12, one float32 division per entry.
    const float data[16] = {0.0f, 0.0625f, 8.0f, 12.0f, 4.0f, 6.0f, 2.0f, 3.0f,
                            0.0f, -0.0625f, -8.0f, -12.0f, -4.0f, -6.0f, -2.0f, -3.0f};
    std::array<float, 16> t{};
    for (int i = 0; i < 16; ++i) t[static_cast<size_t>(i)] = data[i] / 12.0f;
    return t;
  }();
  return table;
}

uint8_t encode_bnb_fp4(float normalized) {
  // dQuantizeFP4's pivots in ascending order and the magnitude codes between them: its binary search
  // with `x > pivot` at every level lands on the number of pivots strictly below |x|.
  constexpr float kPivots[7] = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f,
                                0.4166667f,  0.583333f,  0.8333333f};
  constexpr uint8_t kCodes[8] = {0, 1, 6, 7, 4, 5, 2, 3};  // 0, 1/192, 1/6, 1/4, 1/3, 1/2, 2/3, 1
  const uint8_t sign = normalized < 0.0f ? 8 : 0;
  const float x = std::fabs(normalized);
  int above = 0;
  for (float pivot : kPivots) above += x > pivot;
  return static_cast<uint8_t>(sign | kCodes[above]);
}

}  // namespace qforge::fakequant
