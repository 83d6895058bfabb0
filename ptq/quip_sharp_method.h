#pragma once
// QuIP# on a whole model: the "quip_sharp" method of ptq/registry.cpp (ptq/method.h's contract). Every
// Linear with a weight quantizer is quantized with QuIP# (ptq/quip_sharp.h: randomized Hadamard
// incoherence, BlockLDLQ, E8P codes, 2 bits per weight) from the Hessian of its inputs, in the
// true-sequential order of ptq/sequential.h (as GPTQ), so later layers see quantized inputs.
//
// How the result is a qforge model: the rules' weight quantizers must be `fp16` (`--scheme fp16`: they
// mark the layers QuIP# quantizes; 2-bit E8P is no scheme of the rules). Each quantized Linear's weight
// quantizer is replaced by a fakequant::QuipSharpWeightQuantizer holding its codes, SU, SV and Wscale,
// whose forward is the weight they compute; checkpoints save them and `qforge eval` rebuilds them
// (fakequant/saved_weight_quantizers.h), so eval gives back the quantize run's loss bit for bit. The
// latent weight holds that decoded weight too (docs/quip_sharp.md §4).
// Embedding / Conv2d weight quantizers keep round to nearest; activation quantizers are calibrated
// afterwards, as round to nearest does.
//
// fused (quip-sharp's fused modules, docs/quip_sharp.md §4b): q/k/v and up/gate of each decoder layer, which
// read one input, are quantized as one QuIP# matrix each, stacked on the output axis in quip-sharp's order
// (fakequant::quip_sharp_fused_modules: q, k, v and up, gate), each projection first divided by its RMS
// (quip-sharp's fuse scale, folded back into SV), with the shared input's Hessian and the signs seed of
// the module's first projection; each projection's quantizer holds the fused state and its rows
// (fakequant/quip_sharp_weight.h). This is what quip-sharp's qkv_proj / upgate_proj hold, so `export
// --format hf --quant quip-sharp` can write it. o_proj, down_proj and Linears outside them stay single.
//
// Options ("quip_sharp:damp=0.01,seed=0,scale=1.03,tune=0"): damp (fraction of mean diag H, default 0.01),
// seed (sign vectors: layer i uses seed + 2i for SU and seed + 2i + 1 for SV; default 0), scale (the
// codebook scale: Wscale = RMS(W') / scale, default 1.03), tune (passes of quip-sharp's block
// coordinate descent after BlockLDLQ, ptq/quip_sharp.h step 4; default 0), rtn (an identity Hessian: no
// feedback, i.e. incoherence processing and nearest E8P rounding, the baseline BlockLDLQ is measured against),
// the paper's §5 fine-tuning with the codes frozen (ptq/quip_sharp_finetune.h; a Llama calibrated on
// token ids): layer_finetune=<epochs> per decoder layer (quip-sharp's default is 5; here default 0: off),
// layer_lr, layer_susv_lr (defaults 5e-5, 5e-4), finetune=<epochs> end to end (default 0: off), ft_lr,
// ft_susv_lr (defaults 1e-5, 1e-4).
#include <map>
#include <string>

#include "ptq/method.h"
#include "ptq/quip_sharp.h"

namespace qforge::ptq {

// The walk; returns each quantized Linear's codes, signs and scale by module name (the parts of a fused
// module share one entry: the fused matrix's codes and signs, its `weight` the stacked decoded weight).
std::map<std::string, QuipSharpLayer> quip_sharp_model(layers::Module& model, const Calibration& calibration,
                                                       const std::string& options);

// The registry entry: quip_sharp_model, results dropped.
void quantize_quip_sharp(layers::Module& model, const Calibration& calibration, const std::string& options);
// The registry's Method::bits_per_weight: 2, whatever the model.
double quip_sharp_bits_per_weight(layers::Module& model, const std::string& options);

}  // namespace qforge::ptq
