#pragma once
// SmoothQuant (Xiao et al. 2022, "SmoothQuant: Accurate and Efficient Post-Training Quantization for
// Large Language Models", §4): activation outliers live in a few input channels, so each channel j of a
// Linear's input is divided by s_j and the weight's column j multiplied by it — an exact identity,
// (X diag(s)^-1)(diag(s) W^T) = X W^T — which moves quantization difficulty from activations to
// weights. s_j = max|X_j|^alpha / max|W_:,j|^(1 - alpha) (eq. 4), with alpha = 0.5 by default; the
// weight maximum is over every Linear that reads the input, and both maxima are clamped to >= 1e-5 as
// the reference does. The division is folded into the RMSNorm that produces the input.
//
// The Llama recipe of the reference (smooth_lm): input_layernorm -> (q, k, v) and
// post_attention_layernorm -> (gate, up); o and down are not smoothed. Statistics are the float
// model's, over the calibration batches, collected once before any weight changes. Then the model is
// quantized with round to nearest (ptq/rtn.h): the W8A8 recipe is a scheme such as int8:channel
// weights with int8:token (per-token dynamic) or int8:tensor inputs, and the evaluation runs that
// integer-emulated forward.
#include <string>
#include <vector>

#include "layers/llama.h"
#include "ptq/method.h"

namespace qforge::ptq {

// The smoothing factors of one input (per channel) from its activation and weight maxima.
std::vector<float> smoothing_factors(const std::vector<float>& activation_max, const std::vector<float>& weight_max,
                                     double alpha);

// Per decoder layer, the activation maxima of the q_proj input and the gate_proj input (float model).
struct LlamaSmoothingStatistics {
  std::vector<std::vector<float>> attention_input, mlp_input;
};
LlamaSmoothingStatistics collect_smoothing_statistics(layers::LlamaForCausalLM& model, const Calibration& calibration);

// Folds the factors into the norms and the projections' columns; the unquantized model computes the
// same function (to float rounding).
void smooth_llama(layers::LlamaForCausalLM& model, const LlamaSmoothingStatistics& statistics, double alpha);

// The registry entry: options "alpha=<0..1>".
void quantize_smoothquant(layers::Module& model, const Calibration& calibration, const std::string& options);

}  // namespace qforge::ptq
