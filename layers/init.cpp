#include "layers/init.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace qforge::layers {

namespace {
thread_local bool skip_init = false;
}  // namespace

SkipInit::SkipInit() : previous_(skip_init) { skip_init = true; }
SkipInit::~SkipInit() { skip_init = previous_; }
bool init_skipped() { return skip_init; }

uint64_t derive_seed(uint64_t base, uint64_t stream) {
  uint64_t z = base + (stream + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

autograd::Tensor linear_uniform(const autograd::Shape& shape, int64_t fan_in, uint64_t seed) {
  if (fan_in <= 0) throw std::invalid_argument("linear_uniform: fan_in must be positive, got " + std::to_string(fan_in));
  if (skip_init) return autograd::Tensor::zeros(shape);
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  return autograd::Tensor::uniform(shape, -bound, bound, seed);
}

autograd::Tensor normal_init(const autograd::Shape& shape, uint64_t seed, float stddev) {
  return skip_init ? autograd::Tensor::zeros(shape) : autograd::Tensor::randn(shape, seed, stddev);
}

}  // namespace qforge::layers
