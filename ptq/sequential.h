#pragma once
// The model walk of the Hessian-based methods (GPTQ, SpQR): which Linears they quantize and in which
// order, with the Hessian of each one's inputs collected over the calibration batches.
//
// True-sequential order (Frantar et al. 2022, §5 and the reference's --true-sequential): inside each
// decoder layer [k, v, q], then [o], then [up, gate], then [down]; a subset's Hessians are collected
// with everything before it already quantized, so later layers see quantized inputs. Any other Linear
// is a subset of its own, in module order. Inputs are observed in float (input quantizers are taken
// out while the weights are chosen). q/k/v (and gate/up) read one tensor and share one Hessian.
//
// Streaming: for a Llama whose calibration offers its token ids, the batches are embedded once and each
// decoder layer runs on the stored hidden states (once per subset, then once quantized to give the next
// layer its inputs), so the cost is linear in the depth and peak memory the model plus one layer's
// inputs over the calibration set; the weights are bit-identical to full-model passes
// (tests/ptq/test_gptq_method.cpp). Otherwise, and for Linears outside the decoder layers (lm_head),
// each subset runs the calibration batches through the whole model once. Activation quantizers are the
// caller's business afterwards (ptq/rtn.h calibrate_activations).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fakequant/quantizer.h"
#include "layers/linear.h"
#include "layers/llama_decoder_layer.h"
#include "ptq/method.h"

namespace qforge::ptq {

struct LinearTarget {
  std::string name;
  std::shared_ptr<layers::Linear> linear;
  std::shared_ptr<fakequant::Quantizer> quantizer;  // the weight quantizer the rules installed
};

// Every Linear with a weight quantizer, checked before any work to be an integer grid (ptq/int_grid.h)
// unless `integer_grid` is false (QuIP# checks its own fp16 scheme). std::invalid_argument
// "ptq <method>: ..." when there is none or one does not fit.
std::vector<LinearTarget> quantized_linears(layers::Module& model, const std::string& method, bool integer_grid = true);

// H = 2 X^T X / n of a Linear's float inputs (ptq/gptq.h HessianAccumulator), row-major [in, in].
using QuantizeLinear = std::function<void(const LinearTarget&, const std::vector<double>& hessian)>;

// A streamed decoder layer at a stage of the walk (QuIP#'s per-layer fine-tuning): `subset` -1 before
// its first subset is observed, then the index of the subset just quantized; `inputs` are the layer's
// stored calibration inputs, one per batch.
struct DecoderLayerStage {
  layers::LlamaDecoderLayer& layer;
  const std::string& name;  // "model.layers.<i>"
  const std::vector<autograd::Variable>& inputs;
  int subset;
  bool last;  // the layer's last subset
};
using DecoderLayerHook = std::function<void(const DecoderLayerStage&)>;

// Calls `quantize` on every target in true-sequential order; it must leave the Linear's weight (and
// weight quantizer) as the quantized model uses them before the next subset is observed. `hook`, if
// set, is called at every stage of every streamed decoder layer (calibration with token ids only).
void quantize_true_sequential(layers::Module& model, const Calibration& calibration,
                              const std::vector<LinearTarget>& targets, const QuantizeLinear& quantize,
                              const DecoderLayerHook& hook = {});

}  // namespace qforge::ptq
