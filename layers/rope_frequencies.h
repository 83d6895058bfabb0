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

}  // namespace qforge::layers
