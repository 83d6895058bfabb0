#include "ptq/gptq_method.h"

#include <memory>
#include <stdexcept>
#include <vector>

#include "autograd/variable.h"
#include "fakequant/group_index_weight.h"
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
  bool dynamic_groups = false;
  parse_method_options(text, "ptq gptq", accepted_options("gptq"),
                       [&](const std::string& key, const std::string& value) {
                         if (key == "damp" && !value.empty()) options.gptq.damp = option_double(value);
                         else if (key == "block" && !value.empty()) options.gptq.block_size = option_integer(value);
                         else if (key == "act_order" && value.empty()) options.gptq.act_order = true;
                         else if (key == "dynamic_groups" && value.empty()) dynamic_groups = true;
                         else if (key == "rtn" && value.empty()) options.feedback = false;
                         else return false;
                         return true;
                       });
  // Dynamic groups are groups in act-order, so the flag implies act_order: "gptq:dynamic_groups" needs no
  // comma and survives `--set methods=a,b` lists, which split at commas.
  options.gptq.act_order = options.gptq.act_order || dynamic_groups;
  options.gptq.static_groups = options.gptq.act_order && !dynamic_groups;
  return options;
}

// Act-order with dynamic groups: a group's columns are scattered over the row (g_idx), which the rules'
// contiguous-group quantizer cannot hold; a GroupIndexWeightQuantizer with GPTQ's scales, zero points
// and g_idx takes its place (checkpoints restore it: fakequant/group_index_weight.h).
std::shared_ptr<layers::UnaryModule> group_index_quantizer(const GptqLayer& q, int64_t rows, int64_t cols, const IntGrid& grid) {
  fakequant::GroupIndexState s;
  s.rows = rows, s.cols = cols, s.bits = grid.bits, s.group_size = grid.group_size;
  s.g_idx.assign(q.group_index.begin(), q.group_index.end());
  s.scales = q.scales;
  for (float zero : q.zeros) s.zeros.push_back(static_cast<int64_t>(zero));
  return std::make_shared<fakequant::GroupIndexWeightQuantizer>(s);
}

void quantize_linear(const LinearTarget& t, const std::vector<double>& hessian, const GptqOptions& options) {
  autograd::Variable weight = t.linear->weight();
  autograd::Tensor& data = weight.mutable_data();
  const int64_t rows = t.linear->out_features(), cols = t.linear->in_features();
  const IntGrid grid = int_grid_of(*t.quantizer, t.name, "gptq");
  GptqOptions layer_options = options;
  // One scale per row has no groups: static and dynamic groups are the same single group.
  if (grid.group_size == 0) layer_options.static_groups = false;
  const GptqLayer q = gptq_quantize(std::span<const float>(data.data(), static_cast<size_t>(rows * cols)), rows, cols,
                                    hessian, grid, layer_options);
  std::copy(q.weight.begin(), q.weight.end(), data.data());
  std::shared_ptr<layers::UnaryModule> quantizer = t.quantizer;
  if (options.act_order && !layer_options.static_groups && grid.group_size > 0) {
    quantizer = group_index_quantizer(q, rows, cols, grid);
    t.linear->replace_weight_quantizer(quantizer);
  } else {
    fakequant::QuantParams params;
    params.scales = q.scales;
    // GPTQ's symmetric zero (2^(bits-1)) is the signed grid's 0; its asymmetric zero is the unsigned one.
    for (float zero : q.zeros) params.zero_points.push_back(grid.symmetric ? 0 : static_cast<int32_t>(zero));
    t.quantizer->set_params(params);
  }
  // The stored weight becomes exactly what the quantizer's forward computes from it (the float grid
  // values scale * (q - zero) in the quantizer's own arithmetic), so the latent weight, the forward and
  // fakequant::convert() agree bit for bit, and a reloaded checkpoint evaluates as the quantized model did.
  const autograd::Tensor snapped = quantizer->forward(autograd::Variable(data)).data();
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
