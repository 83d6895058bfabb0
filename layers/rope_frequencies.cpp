#include "layers/rope_frequencies.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

namespace qforge::layers {

namespace {

// _compute_llama3_parameters: wavelengths shorter than original/high_freq_factor are kept, longer than
// original/low_freq_factor are divided by factor, and in between
//   smooth = (original / wavelen - low) / (high - low),  f = (1 - smooth) f / factor + smooth f.
double llama3_frequency(double inv_freq, const RopeScaling& r) {
  const double original = static_cast<double>(r.original_max_position_embeddings);
  const double low_freq_wavelen = original / r.low_freq_factor;
  const double high_freq_wavelen = original / r.high_freq_factor;
  const double wavelen = 2.0 * std::numbers::pi / inv_freq;
  if (wavelen < high_freq_wavelen) return inv_freq;
  if (wavelen > low_freq_wavelen) return inv_freq / r.factor;
  const double smooth = (original / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  return (1.0 - smooth) * inv_freq / r.factor + smooth * inv_freq;
}

}  // namespace

std::vector<double> rope_inverse_frequencies(const LlamaConfig& config) {
  const int64_t d = config.head_dim();
  std::vector<double> inv_freq(static_cast<size_t>(d / 2));
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    // The same expression as autograd's op_rope.cpp, so an unscaled config rotates bit for bit alike.
    double f = 1.0 / std::pow(static_cast<double>(config.rope_theta), static_cast<double>(2 * i) / static_cast<double>(d));
    switch (config.rope_scaling.type) {
      case RopeScaling::Type::kNone: break;
      case RopeScaling::Type::kLinear: f /= config.rope_scaling.factor; break;
      case RopeScaling::Type::kLlama3: f = llama3_frequency(f, config.rope_scaling); break;
      // ggml's rope_cache_init (ggml-cpu/ops.cpp) rotates by theta / freq_factors[i0/2].
      case RopeScaling::Type::kFactors: f /= static_cast<double>(config.rope_scaling.freq_factors[i]); break;
    }
    inv_freq[i] = f;
  }
  return inv_freq;
}

double rope_frequency_difference(const LlamaConfig& a, const LlamaConfig& b) {
  const std::vector<double> fa = rope_inverse_frequencies(a), fb = rope_inverse_frequencies(b);
  if (fa.size() != fb.size()) return std::numeric_limits<double>::infinity();
  double worst = 0.0;
  for (size_t i = 0; i < fa.size(); ++i) worst = std::max(worst, std::abs(fa[i] - fb[i]) / fa[i]);
  return worst;
}

// llama.cpp's converter (conversion/llama.py, LlamaModel.generate_extra_tensors) in torch float32, step by
// step (docs/gguf.md §15): x / y with a Python scalar x is torch's reciprocal(y) * x, and every Python
// scalar meets a float32 tensor as a float32 (comparisons too). This file is built with -ffp-contract=off
// so no step is fused. torch's pow (base ** tensor) is a 1-ulp SIMD powf; here it is correctly rounded.
std::vector<float> llama3_rope_freq_factors(const LlamaConfig& config) {
  const RopeScaling& r = config.rope_scaling;
  if (r.type != RopeScaling::Type::kLlama3) throw std::invalid_argument("llama3_rope_freq_factors: rope_scaling is not llama3");
  const int64_t d = config.head_dim();
  const auto original = static_cast<double>(r.original_max_position_embeddings);
  const float low_wavelen = static_cast<float>(original / r.low_freq_factor);
  const float high_wavelen = static_cast<float>(original / r.high_freq_factor);
  const float two_pi = static_cast<float>(2.0 * std::numbers::pi);
  std::vector<float> factors(static_cast<size_t>(d / 2));
  for (size_t i = 0; i < factors.size(); ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(d);  // arange(0, dim, 2, float32) / dim
    const auto power = static_cast<float>(std::pow(static_cast<double>(config.rope_theta), static_cast<double>(exponent)));
    const float freq = 1.0f / power;
    const float wavelen = (1.0f / freq) * two_pi;
    if (wavelen < high_wavelen) {
      factors[i] = 1.0f;
    } else if (wavelen > low_wavelen) {
      factors[i] = static_cast<float>(r.factor);
    } else {
      const float smooth = ((1.0f / wavelen) * static_cast<float>(original) - static_cast<float>(r.low_freq_factor)) /
                           static_cast<float>(r.high_freq_factor - r.low_freq_factor);
      factors[i] = 1.0f / ((1.0f - smooth) / static_cast<float>(r.factor) + smooth);
    }
  }
  return factors;
}

}  // namespace qforge::layers
