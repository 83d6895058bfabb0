// QuIP# on a model (quip_sharp_method.h): options, the fp16 check, the sequential walk.
#include "ptq/quip_sharp_method.h"

#include <algorithm>
#include <stdexcept>

#include "autograd/variable.h"
#include "fakequant/qat.h"
#include "ptq/e8p.h"
#include "ptq/method_options.h"
#include "ptq/rtn.h"
#include "ptq/sequential.h"

namespace qforge::ptq {
namespace {

struct MethodOptions {
  QuipSharpOptions layer;
  bool feedback = true;  // false: an identity Hessian, i.e. nearest E8P rounding of W' (the baseline)
};

MethodOptions parse_options(const std::string& text) {
  MethodOptions method;
  QuipSharpOptions& options = method.layer;
  parse_method_options(text, "ptq quip_sharp", "damp=<fraction>, seed=<integer>, scale=<codebook scale>, tune=<passes>, rtn",
                       [&](const std::string& key, const std::string& value) {
                         if (key == "damp" && !value.empty()) options.damp = option_double(value);
                         else if (key == "seed" && !value.empty()) options.seed = static_cast<uint64_t>(option_integer(value));
                         else if (key == "scale" && !value.empty()) options.opt_scale = option_double(value);
                         else if (key == "tune" && !value.empty()) options.tune_iterations = static_cast<int>(option_integer(value));
                         else if (key == "rtn" && value.empty()) method.feedback = false;
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
                                "' is not fp16; QuIP# chooses its own 2-bit E8P codes and stores the decoded weight in fp16 "
                                "(use --scheme fp16)");
}

QuipSharpLayer quantize_linear(const LinearTarget& t, const std::vector<double>& hessian, QuipSharpOptions options) {
  autograd::Variable weight = t.linear->weight();
  autograd::Tensor& data = weight.mutable_data();
  const int64_t rows = t.linear->out_features(), cols = t.linear->in_features();
  QuipSharpLayer q = quip_sharp_quantize(std::span<const float>(data.data(), static_cast<size_t>(rows * cols)), rows, cols,
                                         hessian, options);
  std::copy(q.weight.begin(), q.weight.end(), data.data());
  // The latent weight becomes what the fp16 quantizer's forward computes from it, so the forward, a
  // saved checkpoint and its evaluation agree bit for bit.
  const autograd::Tensor snapped = t.quantizer->forward(autograd::Variable(data)).data();
  std::copy(snapped.data(), snapped.data() + snapped.numel(), data.data());
  return q;
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
  std::map<std::string, QuipSharpLayer> out;
  quantize_true_sequential(model, calibration, targets, [&](const LinearTarget& t, const std::vector<double>& hessian) {
    QuipSharpOptions layer = method.layer;
    layer.seed = seeds.at(t.name);
    out[t.name] = method.feedback ? quantize_linear(t, hessian, layer) : quantize_linear(t, identity(t.linear->in_features()), layer);
  });
  calibrate_activations(model, calibration);
  return out;
}

void quantize_quip_sharp(layers::Module& model, const Calibration& calibration, const std::string& options) {
  (void)quip_sharp_model(model, calibration, options);
}

double quip_sharp_bits_per_weight(layers::Module& /*model*/, const std::string& /*options*/) {
  // One 16-bit E8P code per 8 weights (Tseng et al. 2024, §4.1), as the paper counts: the per-matrix
  // Wscale and the sign vectors are not counted.
  return 16.0 / kE8pDim;
}

}  // namespace qforge::ptq
