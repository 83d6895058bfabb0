#include "layers/dropout.h"

#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace qforge::layers {

Dropout::Dropout(float p, uint64_t seed) : p_(p), seed_(seed) {
  if (!(p >= 0.0f && p < 1.0f)) throw std::invalid_argument("Dropout: p must be in [0, 1), got " + std::to_string(p));
}

Variable Dropout::forward(const Variable& x) {
  if (!is_training() || p_ == 0.0f) return x;
  // The op hashes mix64(seed), so consecutive seeds already give unrelated masks. The seed goes
  // through checkpoint_replayable_seed so an activation checkpoint's recompute draws the forward's
  // mask and the counter advances once per step either way.
  const uint64_t seed = autograd::checkpoint_replayable_seed([this] { return seed_++; });
  return autograd::dropout(x, p_, seed, true);
}

}  // namespace qforge::layers
