#include "layers/rope_frequencies.h"

#include <cmath>
#include <numbers>

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
    }
    inv_freq[i] = f;
  }
  return inv_freq;
}

}  // namespace qforge::layers
