#include "fakequant/formats/nf4.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace qforge::fakequant {

uint8_t encode_nf4(float value) {
  if (std::isnan(value)) throw std::invalid_argument("encode_nf4: NaN has no NF4 code");
  // The table is sorted, so walk upwards while the next value is strictly closer; a tie keeps the
  // lower code. Differences of two floats are exact in double.
  // Clamping first keeps ±inf well defined (every distance would be inf) and changes nothing else:
  // beyond ±1 the end values are nearest anyway.
  const double x = std::clamp(static_cast<double>(value), -1.0, 1.0);
  uint8_t best = 0;
  for (uint8_t code = 1; code < kNf4Values.size(); ++code) {
    if (std::fabs(x - kNf4Values[code]) < std::fabs(x - kNf4Values[best])) best = code;
  }
  return best;
}

float decode_nf4(uint8_t code) {
  if (code >= kNf4Values.size()) {
    throw std::invalid_argument("decode_nf4: code must be < 16, got " + std::to_string(code));
  }
  return kNf4Values[code];
}

}  // namespace qforge::fakequant
