#pragma once
// The rotary frequencies of a Llama config, rope_scaling applied, as Hugging Face computes them
// (transformers/modeling_rope_utils.py): _compute_default_rope_parameters gives
// inv_freq[i] = rope_theta^(-2i/head_dim); "linear" (_compute_linear_scaling_rope_parameters) divides
// them all by factor, i.e. positions / factor; "llama3" (_compute_llama3_parameters) rescales by
// wavelength 2*pi/inv_freq against original_max_position_embeddings / {low,high}_freq_factor.
#include <vector>

#include "layers/llama_config.h"

namespace qforge::layers {

/// head_dim/2 inverse frequencies in double; for RopeScaling::Type::kNone exactly what
/// autograd::rope(x, theta) uses.
std::vector<double> rope_inverse_frequencies(const LlamaConfig& config);

/// Largest relative difference |a_i - b_i| / a_i of two configs' rotary frequencies (infinity when their
/// head_dims differ): whether one model's weights may run in the other's graph.
double rope_frequency_difference(const LlamaConfig& a, const LlamaConfig& b);
/// What a llama3 config and the float32 factors its GGUF export wrote (kFactors) may differ by: measured 1.9e-7
/// for Llama 3.1 8B's parameters, 1.5e-6 at factor 64 (docs/gguf.md §15); any real change of scaling is far larger.
inline constexpr double kRopeFactorsTolerance = 1e-5;

/// A kLlama3 config's head_dim/2 divisors in llama.cpp's form (kFactors: frequency i / factor i), float32
/// bit for bit as llama.cpp's convert_hf_to_gguf.py writes rope_freqs.weight (docs/gguf.md §15).
/// std::invalid_argument for any other rope_scaling type.
std::vector<float> llama3_rope_freq_factors(const LlamaConfig& config);

}  // namespace qforge::layers
