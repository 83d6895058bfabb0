#pragma once
// Dropout module (Srivastava et al. 2014) over autograd::dropout's counter-based mask.
#include <cstdint>

#include "layers/module.h"

namespace qforge::layers {

/// Inverted dropout in training mode, identity in eval mode. Each training-mode call uses the
/// current seed and then advances it, so successive steps draw different masks while a run that
/// starts from the same seed reproduces every mask.
class Dropout : public UnaryModule {
 public:
  /// Drops with probability p in [0, 1); throws std::invalid_argument otherwise.
  explicit Dropout(float p = 0.5f, uint64_t seed = 0);
  /// x -> x * mask / (1 - p) when is_training() and p > 0, else x itself.
  Variable forward(const Variable& x) override;
  /// The drop probability.
  float p() const { return p_; }
  /// The seed the next training-mode call will use.
  uint64_t next_seed() const { return seed_; }
  /// Restarts the mask sequence from `seed` (e.g. when resuming from a checkpoint).
  void set_seed(uint64_t seed) { seed_ = seed; }

 private:
  float p_;
  uint64_t seed_;
};

}  // namespace qforge::layers
