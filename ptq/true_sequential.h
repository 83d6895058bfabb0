#pragma once
// GPTQ's walk over a model (Frantar et al. 2022, §5 and the reference's --true-sequential), shared by
// every method that quantizes Linears from the Hessians of their inputs (gptq_method.h on integer
// grids, gptq_ggml_method.h on ggml codecs): inside each decoder layer [k, v, q], then [o], then
// [up, gate], then [down]; a subset's Hessians are collected with everything before it already
// quantized, so later layers see quantized inputs. Any other Linear is a subset of its own, in module
// order. Inputs are observed in float (input quantizers are taken out meanwhile, ptq/input_hooks.h).
// Each subset runs the calibration batches through the whole model once.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/linear.h"
#include "ptq/gptq.h"
#include "ptq/method.h"

namespace qforge::ptq {

struct LinearTarget {
  std::string name;  // module name, e.g. "model.layers.0.self_attn.q_proj"
  std::shared_ptr<layers::Linear> linear;
};

// Called once per target, in walk order, with the Hessian of its inputs; it must leave the Linear's
// weight as the quantized model uses it (later subsets are observed through it).
using QuantizeWithHessian = std::function<void(const LinearTarget& target, const HessianAccumulator& hessian)>;

void run_true_sequential(layers::Module& model, const std::vector<LinearTarget>& targets, const Calibration& calibration,
                         const QuantizeWithHessian& quantize);

}  // namespace qforge::ptq
