#pragma once
// The true-sequential model walk shared by the methods that quantize each Linear from the Hessian of
// its inputs (GPTQ, QuIP#): Frantar et al. 2022, §5 and the reference's --true-sequential. Inside each
// decoder layer [k, v, q], then [o], then [up, gate], then [down]; a subset's Hessians
// (ptq/gptq.h HessianAccumulator: H = 2 X^T X / n) are collected with everything before it already
// quantized, so later layers see quantized inputs. Any other Linear is a subset of its own, in module
// order. Inputs are observed in float (input quantizers are taken out while the weights are chosen, as
// FloatLinears does). Each subset runs the calibration batches through the whole model once.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fakequant/quantizer.h"
#include "layers/linear.h"
#include "ptq/method.h"

namespace qforge::ptq {

struct LinearTarget {
  std::string name;
  std::shared_ptr<layers::Linear> linear;
  std::shared_ptr<fakequant::Quantizer> quantizer;  // the weight quantizer
};

// Every Linear of `model` with a weight Quantizer, in module order; std::invalid_argument
// "ptq <method>: no Linear has a weight quantizer" when there is none.
std::vector<LinearTarget> linear_targets(layers::Module& model, const std::string& method);

// The true-sequential subsets of the file comment.
std::vector<std::vector<LinearTarget>> sequential_subsets(const std::vector<LinearTarget>& targets);

// The walk: for each subset, the Hessians of its float inputs over the calibration batches, then
// `quantize(target, hessian)` for each of its targets in turn (which must leave the weight as the
// quantized model computes it). Runs without gradients.
using QuantizeLinear = std::function<void(const LinearTarget& target, const std::vector<double>& hessian)>;
void quantize_sequentially(layers::Module& model, const Calibration& calibration, const std::vector<LinearTarget>& targets,
                           const QuantizeLinear& quantize);

}  // namespace qforge::ptq
