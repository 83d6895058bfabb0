#pragma once
// GPTQ on a whole model: the "gptq" method of ptq/registry.cpp (ptq/method.h's contract). Every Linear
// whose weight quantizer is an integer grid with FP32 scales per output channel or per group of input
// columns is quantized with GPTQ (ptq/gptq.h) from the Hessian of its inputs over the calibration
// batches; Embedding and Conv2d weight quantizers get round to nearest.
//
// True-sequential order, streamed layer by layer for language models (ptq/sequential.h; Frantar et al.
// 2022, §5): inside each decoder layer [k, v, q], then [o], then [up, gate], then [down]; a subset's
// Hessians are collected with everything before it already quantized, so later layers see quantized
// inputs. Inputs are observed in float (input quantizers are taken out while the weights are chosen)
// and the activation quantizers are calibrated afterwards, as round to nearest does.
//
// Options ("gptq:damp=0.01,block=128,act_order"): damp (fraction of mean diag H, default 0.01), block
// (columns per lazy batch, default 128), act_order (columns in descending diag H; groups stay the
// quantizer's contiguous groups with scales from the unmodified weight: GPTQ's static groups),
// dynamic_groups (implies act_order: a group is group-size consecutive columns in act-order with its scale
// chosen when GPTQ reaches it, the reference's `--act-order` and AutoGPTQ's desc_act without
// static_groups; the weight quantizer becomes a fakequant::GroupIndexWeightQuantizer holding g_idx,
// scales and zero points, which checkpoints restore), rtn (an identity Hessian: no feedback, i.e. round
// to nearest on GPTQ's grid, the baseline GPTQ is measured against; GPTQ's symmetric grid is
// max|w| / (2^(bits-1) - 0.5), the `rtn` method's is the quantizer's own).
#include <string>

#include "ptq/method.h"

namespace qforge::ptq {

void quantize_gptq(layers::Module& model, const Calibration& calibration, const std::string& options);

}  // namespace qforge::ptq
