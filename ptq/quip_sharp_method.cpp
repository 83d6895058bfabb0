// QuIP# on a model (quip_sharp_method.h): options, the fp16 check, the sequential walk.
#include "ptq/quip_sharp_method.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "autograd/variable.h"
#include "fakequant/qat.h"
#include "fakequant/formats/e8p.h"
#include "fakequant/quip_sharp_weight.h"
#include "layers/llama.h"
#include "ptq/input_hooks.h"
#include "ptq/method.h"
#include "ptq/method_options.h"
#include "ptq/quip_sharp_finetune.h"
#include "ptq/rtn.h"
#include "ptq/sequential.h"

namespace qforge::ptq {
namespace {

struct MethodOptions {
  QuipSharpOptions layer;
  QuipSharpFinetuneOptions finetune;
  bool feedback = true;  // false: an identity Hessian, i.e. nearest E8P rounding of W' (the baseline)
};

MethodOptions parse_options(const std::string& text) {
  MethodOptions method;
  QuipSharpOptions& options = method.layer;
  parse_method_options(text, "ptq quip_sharp", accepted_options("quip_sharp"),
                       [&](const std::string& key, const std::string& value) {
                         if (key == "damp" && !value.empty()) options.damp = option_double(value);
                         else if (key == "seed" && !value.empty()) options.seed = static_cast<uint64_t>(option_integer(value));
                         else if (key == "scale" && !value.empty()) options.opt_scale = option_double(value);
                         else if (key == "tune" && !value.empty()) options.tune_iterations = static_cast<int>(option_integer(value));
                         else if (key == "rtn" && value.empty()) method.feedback = false;
                         else if (key == "finetune" && !value.empty()) method.finetune.epochs = static_cast<int>(option_integer(value));
                         else if (key == "ft_lr" && !value.empty()) method.finetune.lr = option_double(value);
                         else if (key == "ft_susv_lr" && !value.empty()) method.finetune.susv_lr = option_double(value);
                         else if (key == "layer_finetune" && !value.empty())
                           method.finetune.layer_epochs = static_cast<int>(option_integer(value));
                         else if (key == "layer_lr" && !value.empty()) method.finetune.layer_lr = option_double(value);
                         else if (key == "layer_susv_lr" && !value.empty()) method.finetune.layer_susv_lr = option_double(value);
                         else return false;
                         return true;
                       });
  return method;
}

std::vector<double> identity(int64_t n) {
  std::vector<double> h(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) h[i * n + i] = 1.0;
  return h;
}

void check_fp16(const LinearTarget& t) {
  const fakequant::QuantizerSpec& spec = t.quantizer->spec();
  if (spec.format != fakequant::ElementFormat::kFp16 || spec.is_ggml_block())
    throw std::invalid_argument("ptq quip_sharp: " + t.name + ": weight scheme '" + spec.describe() +
                                "' is not fp16; QuIP# replaces it with its own 2-bit E8P representation, "
                                "and the rules' fp16 marks the layers it quantizes (use --scheme fp16)");
}

QuipSharpLayer quantize_linear(const LinearTarget& t, const std::vector<double>& hessian, QuipSharpOptions options) {
  autograd::Variable weight = t.linear->weight();
  autograd::Tensor& data = weight.mutable_data();
  const int64_t rows = t.linear->out_features(), cols = t.linear->in_features();
  QuipSharpLayer q = quip_sharp_quantize(std::span<const float>(data.data(), static_cast<size_t>(rows * cols)), rows, cols,
                                         hessian, options);
  auto quantizer = std::make_shared<fakequant::QuipSharpWeightQuantizer>(quip_sharp_state(q, rows, cols));
  t.linear->replace_weight_quantizer(quantizer);
  // The latent weight is not read by the forward; it holds the decoded weight so that anything reading
  // the parameter directly sees the model's weight.
  const autograd::Tensor decoded = quantizer->forward(weight).data();
  std::copy(decoded.data(), decoded.data() + decoded.numel(), data.data());
  return q;
}

// The per-layer fine-tuning as a walk hook (ptq/quip_sharp_finetune.h): the original layer's outputs
// are taken before its first subset, the layer is tuned after every subset but the last.
DecoderLayerHook layer_finetune(const QuipSharpFinetuneOptions& options) {
  if (options.layer_epochs <= 0) return {};
  auto outputs = std::make_shared<std::vector<autograd::Tensor>>();
  return [options, outputs](const DecoderLayerStage& stage) {
    if (stage.subset < 0) {
      outputs->clear();
      const FloatLinears float_layer(stage.layer, FloatParts::kInputsAndWeights);  // the original layer, not its fp16 rounding
      for (const autograd::Variable& x : stage.inputs) outputs->push_back(stage.layer.forward(x).data());
    } else if (!stage.last) {
      quip_sharp_finetune_layer(stage.layer, stage.inputs, *outputs, options, stage.name + " stage " + std::to_string(stage.subset));
    }
  };
}

}  // namespace

std::map<std::string, QuipSharpLayer> quip_sharp_model(layers::Module& model, const Calibration& calibration,
                                                       const std::string& options_text) {
  const MethodOptions method = parse_options(options_text);
  const std::vector<LinearTarget> targets = quantized_linears(model, "quip_sharp", false);
  for (const LinearTarget& t : targets) check_fp16(t);  // refuse before any work
  std::map<std::string, uint64_t> seeds;  // distinct signs per layer, in module order
  for (size_t i = 0; i < targets.size(); ++i) seeds[targets[i].name] = method.layer.seed + 2 * i;
  fakequant::calibrate_weights(model);
  auto* llama = dynamic_cast<layers::LlamaForCausalLM*>(&model);
  if (method.finetune.epochs > 0 && llama == nullptr) throw std::invalid_argument("ptq quip_sharp: finetune needs a Llama");
  if (method.finetune.layer_epochs > 0 && (llama == nullptr || !calibration.token_ids))
    throw std::invalid_argument("ptq quip_sharp: layer_finetune needs a Llama calibrated on token ids (streamed decoder layers)");
  std::vector<autograd::Tensor> original;
  if (method.finetune.epochs > 0) {
    const FloatLinears float_model(model, FloatParts::kInputsAndWeights);  // the original model, not its fp16 rounding
    original = original_probabilities(*llama, calibration);
  }
  std::map<std::string, QuipSharpLayer> out;
  const auto quantize = [&](const LinearTarget& t, const std::vector<double>& hessian) {
    QuipSharpOptions layer = method.layer;
    layer.seed = seeds.at(t.name);
    out[t.name] = method.feedback ? quantize_linear(t, hessian, layer) : quantize_linear(t, identity(t.linear->in_features()), layer);
  };
  quantize_true_sequential(model, calibration, targets, quantize, layer_finetune(method.finetune));
  if (method.finetune.epochs > 0) quip_sharp_finetune(*llama, calibration, original, method.finetune);
  calibrate_activations(model, calibration);
  return out;
}

void quantize_quip_sharp(layers::Module& model, const Calibration& calibration, const std::string& options) {
  (void)quip_sharp_model(model, calibration, options);
}

double quip_sharp_bits_per_weight(layers::Module& /*model*/, const std::string& /*options*/) {
  // One 16-bit E8P code per 8 weights (Tseng et al. 2024, §4.1), as the paper counts: the per-matrix
  // Wscale and the sign vectors are not counted.
  return 16.0 / fakequant::kE8pDim;
}

}  // namespace qforge::ptq
