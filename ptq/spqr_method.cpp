#include "ptq/spqr_method.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <vector>

#include "autograd/variable.h"
#include "fakequant/qat.h"
#include "fakequant/spqr_weight.h"
#include "ptq/int_grid.h"
#include "ptq/method_options.h"
#include "ptq/rtn.h"
#include "ptq/sequential.h"
#include "ptq/spqr.h"

namespace qforge::ptq {
namespace {

struct MethodOptions {
  SpqrOptions spqr;
  double outliers = 0.01;     // target fraction, unless `threshold` was given
  bool by_threshold = false;
};

MethodOptions parse_options(const std::string& text) {
  MethodOptions o;
  parse_method_options(text, "ptq spqr", "outliers=<fraction>, threshold=<tau>, beta1=<columns>, beta2=<rows>, "
                       "qq_bits=<bits>, damp=<fraction>, block=<columns>, act_order, no_act_order",
                       [&](const std::string& key, const std::string& value) {
                         const bool has = !value.empty();
                         if (key == "outliers" && has) o.outliers = option_double(value);
                         else if (key == "threshold" && has) o.spqr.threshold = option_double(value), o.by_threshold = true;
                         else if (key == "beta1" && has) o.spqr.beta1 = option_integer(value);
                         else if (key == "beta2" && has) o.spqr.beta2 = option_integer(value);
                         else if (key == "qq_bits" && has) o.spqr.stat_bits = static_cast<int>(option_integer(value));
                         else if (key == "damp" && has) o.spqr.damp = option_double(value);
                         else if (key == "block" && has) o.spqr.block_size = option_integer(value);
                         else if (key == "act_order" && !has) o.spqr.act_order = true;
                         else if (key == "no_act_order" && !has) o.spqr.act_order = false;
                         else return false;
                         return true;
                       });
  return o;
}

struct Totals {
  int64_t weights = 0, outliers = 0, layers = 0;
};

void quantize_linear(const LinearTarget& t, const std::vector<double>& hessian, MethodOptions o, Totals& totals) {
  o.spqr.bits = int_grid_of(*t.quantizer, t.name, "spqr").bits;
  autograd::Variable weight = t.linear->weight();
  autograd::Tensor& data = weight.mutable_data();
  const int64_t rows = t.linear->out_features(), cols = t.linear->in_features();
  const std::span<const float> w(data.data(), static_cast<size_t>(rows * cols));
  const SpqrLayer q = o.by_threshold ? spqr_quantize(w, rows, cols, hessian, o.spqr)
                                     : spqr_quantize_to_fraction(w, rows, cols, hessian, o.spqr, o.outliers);
  std::copy(q.weight.begin(), q.weight.end(), data.data());
  auto quantizer = std::make_shared<fakequant::SpqrWeightQuantizer>(q.state);
  // Weight quantizer first, then the input quantizer (none while the walk observes float inputs).
  std::shared_ptr<layers::UnaryModule> input = t.linear->take_input_quantizer();
  t.linear->take_weight_quantizer();
  t.linear->set_weight_quantizer(quantizer);
  if (input) t.linear->set_input_quantizer(input);
  // The latent weight becomes exactly what the forward computes from it (as gptq does), so a reloaded
  // checkpoint evaluates bit for bit as the quantized model did.
  const autograd::Tensor snapped = quantizer->forward(autograd::Variable(data)).data();
  std::copy(snapped.data(), snapped.data() + snapped.numel(), data.data());
  totals.weights += rows * cols;
  totals.outliers += static_cast<int64_t>(q.state.outliers.size());
  totals.layers += 1;
}

}  // namespace

void quantize_spqr(layers::Module& model, const Calibration& calibration, const std::string& options_text) {
  const MethodOptions options = parse_options(options_text);
  const std::vector<LinearTarget> targets = quantized_linears(model, "spqr");
  fakequant::calibrate_weights(model);  // layers not reached yet need scales for the forward passes
  autograd::NoGradGuard no_grad;
  Totals totals;
  quantize_true_sequential(model, calibration, targets, [&](const LinearTarget& t, const std::vector<double>& hessian) {
    quantize_linear(t, hessian, options, totals);
  });
  calibrate_activations(model, calibration);
  SpqrOptions counted = options.spqr;
  counted.bits = int_grid_of(*targets.front().quantizer, targets.front().name, "spqr").bits;
  const double fraction = static_cast<double>(totals.outliers) / static_cast<double>(totals.weights);
  std::fprintf(stderr, "spqr: %lld linears, outliers %lld of %lld weights (%.4f%%), %.4f bits per weight "
                       "(w %d + statistics %.4f + second order %.4f + outliers %.4f)\n",
               static_cast<long long>(totals.layers), static_cast<long long>(totals.outliers), static_cast<long long>(totals.weights),
               100 * fraction, spqr_bits_per_weight(counted, fraction), counted.bits, 2.0 * counted.stat_bits / counted.beta1,
               64.0 / static_cast<double>(counted.beta1 * counted.beta2), 32 * fraction);
}

double spqr_model_bits_per_weight(layers::Module& model, const std::string& /*options*/) {
  double bits = 0, weights = 0;
  for (const auto& [name, module] : model.named_modules()) {
    const auto* quantizer = dynamic_cast<const fakequant::SpqrWeightQuantizer*>(module.get());
    if (!quantizer) continue;
    const fakequant::SpqrState state = quantizer->state();
    const fakequant::SpqrLayout& l = state.layout;
    SpqrOptions counted;
    counted.bits = l.bits, counted.beta1 = l.beta1, counted.beta2 = l.beta2, counted.stat_bits = l.stat_bits;
    const double n = static_cast<double>(l.rows * l.cols);
    bits += n * spqr_bits_per_weight(counted, static_cast<double>(state.outliers.size()) / n);
    weights += n;
  }
  if (weights == 0) throw std::invalid_argument("spqr: the model has no SpQR layer to count bits of");
  return bits / weights;
}

}  // namespace qforge::ptq
