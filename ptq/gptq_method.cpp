#include "ptq/gptq_method.h"

#include <stdexcept>
#include <vector>

#include "autograd/variable.h"
#include "fakequant/qat.h"
#include "layers/linear.h"
#include "ptq/gptq.h"
#include "ptq/int_grid.h"
#include "ptq/method.h"
#include "ptq/method_options.h"
#include "ptq/rtn.h"
#include "ptq/sequential.h"

namespace qforge::ptq {
namespace {

struct MethodOptions {
  GptqOptions gptq;
  bool feedback = true;  // false: an identity Hessian, i.e. round to nearest on GPTQ's grid
};

MethodOptions parse_options(const std::string& text) {
  MethodOptions options;
  parse_method_options(text, "ptq gptq", accepted_options("gptq"),
                       [&](const std::string& key, const std::string& value) {
                         if (key == "damp" && !value.empty()) options.gptq.damp = option_double(value);
                         else if (key == "block" && !value.empty()) options.gptq.block_size = option_integer(value);
                         else if (key == "act_order" && value.empty()) options.gptq.act_order = options.gptq.static_groups = true;
                         else if (key == "rtn" && value.empty()) options.feedback = false;
                         else return false;
                         return true;
                       });
  return options;
}

void quantize_linear(const LinearTarget& t, const std::vector<double>& hessian, const GptqOptions& options) {
  autograd::Variable weight = t.linear->weight();
  autograd::Tensor& data = weight.mutable_data();
  const int64_t rows = t.linear->out_features(), cols = t.linear->in_features();
  const IntGrid grid = int_grid_of(*t.quantizer, t.name, "gptq");
  GptqOptions layer_options = options;
  // act_order keeps the quantizer's groups contiguous (static groups); one scale per row has no groups.
  if (grid.group_size == 0) layer_options.static_groups = false;
  const GptqLayer q = gptq_quantize(std::span<const float>(data.data(), static_cast<size_t>(rows * cols)), rows, cols,
                                    hessian, grid, layer_options);
  std::copy(q.weight.begin(), q.weight.end(), data.data());
  fakequant::QuantParams params;
  params.scales = q.scales;
  // GPTQ's symmetric zero (2^(bits-1)) is the signed grid's 0; its asymmetric zero is the unsigned one.
  for (float zero : q.zeros) params.zero_points.push_back(grid.symmetric ? 0 : static_cast<int32_t>(zero));
  t.quantizer->set_params(params);
  // The stored weight becomes exactly what the quantizer's forward computes from it (the float grid
  // values scale * (q - zero) in the quantizer's own arithmetic), so the latent weight, the forward and
  // fakequant::convert() agree bit for bit.
  const autograd::Tensor snapped = t.quantizer->forward(autograd::Variable(data)).data();
  std::copy(snapped.data(), snapped.data() + snapped.numel(), data.data());
}

std::vector<double> identity(int64_t n) {
  std::vector<double> h(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) h[i * n + i] = 1.0;
  return h;
}

}  // namespace

void quantize_gptq(layers::Module& model, const Calibration& calibration, const std::string& options_text) {
  const MethodOptions options = parse_options(options_text);
  const std::vector<LinearTarget> targets = quantized_linears(model, "gptq");
  // Every weight quantizer starts from round to nearest: layers GPTQ has not reached yet (and
  // Embedding / Conv2d weights, which keep it) need scales for the forward passes.
  fakequant::calibrate_weights(model);
  autograd::NoGradGuard no_grad;
  quantize_true_sequential(model, calibration, targets, [&](const LinearTarget& t, const std::vector<double>& hessian) {
    if (options.feedback) quantize_linear(t, hessian, options.gptq);  // (a ?: would copy the n x n Hessian)
    else quantize_linear(t, identity(t.linear->in_features()), options.gptq);
  });
  calibrate_activations(model, calibration);
}

}  // namespace qforge::ptq
