#pragma once
// Parameter initialisers. Every initialiser takes an explicit seed, so a model built twice with
// the same seeds has identical weights.
#include <cstdint>

#include "autograd/tensor.h"

namespace qforge::layers {

/// A seed for sub-stream `stream` of `base` (splitmix64 of both; Steele, Lea & Flood 2014), so
/// the parameters of one model draw from unrelated generators.
uint64_t derive_seed(uint64_t base, uint64_t stream);

/// Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's nn.Linear default, which is
/// kaiming_uniform_(a = sqrt(5)) for the weight (He et al. 2015) and the same bound for the bias.
autograd::Tensor linear_uniform(const autograd::Shape& shape, int64_t fan_in, uint64_t seed);

}  // namespace qforge::layers
