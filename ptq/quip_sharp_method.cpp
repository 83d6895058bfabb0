// QuIP# on a model (quip_sharp_method.h): options, the fp16 check, the sequential walk.
#include "ptq/quip_sharp_method.h"

#include <algorithm>
#include <cmath>
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
  bool fused = false;    // quip-sharp's fused qkv_proj / upgate_proj (quip_sharp_method.h)
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
                         else if (key == "fused" && value.empty()) method.fused = true;
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

// Installs `state` as the Linear's weight quantizer. The latent weight is not read by the forward; it
// holds the decoded weight so that anything reading the parameter directly sees the model's weight.
void install(const LinearTarget& t, const fakequant::QuipSharpState& state) {
  auto quantizer = std::make_shared<fakequant::QuipSharpWeightQuantizer>(state);
  t.linear->replace_weight_quantizer(quantizer);
  autograd::Variable weight = t.linear->weight();
  const autograd::Tensor decoded = quantizer->forward(weight).data();
  std::copy(decoded.data(), decoded.data() + decoded.numel(), weight.mutable_data().data());
}

QuipSharpLayer quantize_linear(const LinearTarget& t, const std::vector<double>& hessian, QuipSharpOptions options) {
  const autograd::Tensor& data = t.linear->weight().data();
  const int64_t rows = t.linear->out_features(), cols = t.linear->in_features();
  QuipSharpLayer q = quip_sharp_quantize(std::span<const float>(data.data(), static_cast<size_t>(rows * cols)), rows, cols,
                                         hessian, options);
  install(t, quip_sharp_state(q, rows, cols));
  return q;
}

// The projections of the fused module (fakequant::quip_sharp_fused_modules) `t` is part of, in the
// module's order, or none. std::invalid_argument naming the part that is not quantized.
std::vector<const LinearTarget*> fused_parts(const LinearTarget& t, const std::map<std::string, const LinearTarget*>& targets) {
  for (const fakequant::QuipSharpFusedModule& module : fakequant::quip_sharp_fused_modules()) {
    for (const std::string& part : module.parts) {
      if (!t.name.ends_with("." + part)) continue;
      const std::string prefix = t.name.substr(0, t.name.size() - part.size());
      std::vector<const LinearTarget*> out;
      for (const std::string& p : module.parts) {
        const auto it = targets.find(prefix + p);
        if (it == targets.end())
          throw std::invalid_argument("ptq quip_sharp: fused: " + prefix + p + " is not quantized but " + t.name +
                                      " is; " + prefix + module.name + " stacks them all (quantize every one, or drop fused)");
        out.push_back(it->second);
      }
      return out;
    }
  }
  return {};
}

// quip-sharp's fused quantization (lib/algo/quip.py quantize_linear given several weights): each
// projection divided by its RMS (its fuse scale), stacked on the output axis and quantized as one QuIP#
// matrix with the shared input's Hessian, so one SU, one SV and one Wscale. quip-sharp keeps the scales
// in the module's fuse_scales; qforge folds each into its rows of SV (as quip-sharp folds a single
// matrix's scale into SV), so each projection's weight is its rows of the fused state (quip_sharp_weight.h).
QuipSharpLayer quantize_fused(const std::vector<const LinearTarget*>& parts, const std::vector<double>& hessian,
                              const QuipSharpOptions& options) {
  const int64_t cols = parts[0]->linear->in_features();
  std::vector<float> stacked, scales;
  std::vector<int64_t> begins{0};
  for (const LinearTarget* p : parts) {
    if (p->linear->in_features() != cols) throw std::invalid_argument("ptq quip_sharp: fused: " + p->name + " has another input size");
    const autograd::Tensor& w = p->linear->weight().data();
    double squares = 0;
    for (int64_t i = 0; i < w.numel(); ++i) squares += static_cast<double>(w.data()[i]) * w.data()[i];
    const float rms = static_cast<float>(std::sqrt(squares / static_cast<double>(w.numel())));
    scales.push_back(rms > 0 ? rms : 1.0f);
    for (int64_t i = 0; i < w.numel(); ++i) stacked.push_back(static_cast<float>(w.data()[i] / static_cast<double>(scales.back())));
    begins.push_back(begins.back() + p->linear->out_features());
  }
  const int64_t rows = begins.back();
  QuipSharpLayer q = quip_sharp_quantize(stacked, rows, cols, hessian, options);
  fakequant::QuipSharpState fused = quip_sharp_state(q, rows, cols);
  for (size_t i = 0; i < parts.size(); ++i)
    for (int64_t r = begins[i]; r < begins[i + 1]; ++r) fused.sv[r] *= scales[i];
  q.weight = fakequant::quip_sharp_weight(fused);
  for (size_t i = 0; i < parts.size(); ++i) {
    fakequant::QuipSharpState slice = fused;
    slice.row_begin = begins[i], slice.row_end = begins[i + 1];
    install(*parts[i], slice);
  }
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
  std::map<std::string, const LinearTarget*> by_name;
  for (const LinearTarget& t : targets) by_name[t.name] = &t;
  for (const LinearTarget& t : targets) {  // refuse before any work
    check_fp16(t);
    if (method.fused) (void)fused_parts(t, by_name);
  }
  std::map<std::string, uint64_t> seeds;  // distinct signs per layer, in module order
  for (size_t i = 0; i < targets.size(); ++i) seeds[targets[i].name] = method.layer.seed + 2 * i;
  fakequant::calibrate_weights(model);
  auto* llama = dynamic_cast<layers::LlamaForCausalLM*>(&model);
  if (method.fused && (method.finetune.epochs > 0 || method.finetune.layer_epochs > 0))
    throw std::invalid_argument("ptq quip_sharp: fused with finetune / layer_finetune is not implemented (each projection's "
                                "quantizer holds its own copy of the shared SU and SV, which tuning would let drift apart)");
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
    if (out.count(t.name)) return;  // a fused module's part, quantized with the first one the walk reached
    QuipSharpOptions layer = method.layer;
    const std::vector<double> h = method.feedback ? hessian : identity(t.linear->in_features());
    const std::vector<const LinearTarget*> parts = method.fused ? fused_parts(t, by_name) : std::vector<const LinearTarget*>{};
    if (parts.empty()) {
      layer.seed = seeds.at(t.name);
      out[t.name] = quantize_linear(t, h, layer);
      return;
    }
    layer.seed = seeds.at(parts[0]->name);  // the seed of the module's first projection
    const QuipSharpLayer q = quantize_fused(parts, h, layer);
    for (const LinearTarget* p : parts) out[p->name] = q;
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
