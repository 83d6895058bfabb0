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

/// N(0, stddev^2) from `seed` (nn.Embedding's default with stddev 1, HF's _init_weights with
/// initializer_range).
autograd::Tensor normal_init(const autograd::Shape& shape, uint64_t seed, float stddev = 1.0f);

/// While one is alive, this thread's initialisers (linear_uniform, normal_init, LlamaModel's) give
/// zeros instead of drawing: a model whose every parameter a loader then overwrites (an HF folder, a
/// GGUF file) is built without drawing and throwing away ~1e9 random numbers (transformers'
/// no_init_weights does the same for from_pretrained). The loader must check that it wrote every
/// parameter, or zeros would survive.
class SkipInit {
 public:
  SkipInit();
  ~SkipInit();
  SkipInit(const SkipInit&) = delete;
  SkipInit& operator=(const SkipInit&) = delete;

 private:
  bool previous_;
};

/// True inside a SkipInit on this thread.
bool init_skipped();

}  // namespace qforge::layers
