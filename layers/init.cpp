#include "layers/init.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace qforge::layers {

uint64_t derive_seed(uint64_t base, uint64_t stream) {
  uint64_t z = base + (stream + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

autograd::Tensor linear_uniform(const autograd::Shape& shape, int64_t fan_in, uint64_t seed) {
  if (fan_in <= 0) throw std::invalid_argument("linear_uniform: fan_in must be positive, got " + std::to_string(fan_in));
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  return autograd::Tensor::uniform(shape, -bound, bound, seed);
}

}  // namespace qforge::layers
