#pragma once
// prepare_qat / convert: the user-facing QAT API. Rules map module names to quantizers; the model's
// quantizable layers (Linear, Conv2d, Embedding; layers/quantizable.h) get a weight quantizer and an
// input quantizer from the first rule whose glob matches, so mixed precision and skipped layers are
// one rule each:
//   {"lm_head", skip}, {"model.embed_tokens", skip}, {"*.mlp.*", int3 g32}, {"*", int4 g32 + int8 acts}
// convert() then yields the integer codes and scales exporters write.
#include <optional>
#include <string>
#include <vector>

#include "fakequant/quantized_tensor.h"
#include "fakequant/quantizer.h"
#include "fakequant/quantizer_spec.h"
#include "layers/module.h"

namespace qforge::fakequant {

struct QuantRule {
  // Glob over the layer's dotted module name ("model.layers.0.mlp.up_proj") or its weight's
  // parameter name (that name + ".weight"): '*' matches any run of characters including dots, '?' one
  // character, [...] a set (fnmatch without FNM_PATHNAME).
  std::string pattern;
  std::optional<QuantizerSpec> weight;  // absent: weight stays float
  std::optional<QuantizerSpec> input;   // absent: input activations stay float
  bool skip = false;                    // matched layers stay float, later rules are not tried
};

// What prepare_qat did to one layer.
struct PreparedLayer {
  std::string name;
  std::string rule;  // the matching pattern
  std::optional<QuantizerSpec> weight, input;
};

// Installs quantizers on every quantizable layer of `model` matched by a rule (first match wins;
// layers no rule matches stay float). Call it before building the optimizer, so learnable scales are
// trained, and before loading a QAT checkpoint, so the quantizers' state is restored. Throws
// std::invalid_argument naming the rule when a rule matches no layer at all (a typo would otherwise
// silently leave the model float) or a spec does not fit the layer, and std::logic_error when a
// layer already has quantizers.
std::vector<PreparedLayer> prepare_qat(layers::Module& model, const std::vector<QuantRule>& rules);

// One quantized weight, named like the model's parameter ("model.layers.0.mlp.up_proj.weight").
struct ConvertedWeight {
  std::string name;
  QuantizedTensor tensor;
};
// Static activation quantization parameters of one layer input ("<layer>.input").
struct ConvertedActivation {
  std::string name;
  QuantizerSpec spec;
  QuantParams params;  // empty for dynamic per-token quantizers
};
struct ConvertedModel {
  std::vector<ConvertedWeight> weights;
  std::vector<ConvertedActivation> activations;
};

// Integer codes and scales of every quantized weight (the weights exactly as the fake-quantized
// forward sees them: dequantize_tensor(w.tensor) equals the weight quantizer's output bit for bit)
// and the activation parameters. Weights with GGUF block types (QuantizerSpec::ggml_type) are left
// out: their codes are ggml blocks, which exporters/gguf writes from the latent weight with the same
// codec. Throws std::logic_error naming the layer when an activation
// quantizer has never been calibrated, and std::invalid_argument naming the weight when its weight
// quantizer is not a fakequant::Quantizer (a post-training representation: SpQR, GPTQ dynamic groups).
ConvertedModel convert(layers::Module& model);

// All quantizers of `model` with their module names (for logging, freezing, PTQ calibration).
std::vector<std::pair<std::string, std::shared_ptr<Quantizer>>> quantizers_of(layers::Module& model);

// Rules match names with the one glob of qforge (layers/module.h; see QuantRule::pattern).
using layers::glob_match;

}  // namespace qforge::fakequant

namespace qforge::fakequant {
// PTQ: gives every weight quantizer of `model` the scales of its current weight and freezes it.
void calibrate_weights(layers::Module& model);
}  // namespace qforge::fakequant
