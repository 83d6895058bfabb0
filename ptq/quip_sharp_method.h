#pragma once
// QuIP# on a whole model: the "quip_sharp" method of ptq/registry.cpp (ptq/method.h's contract). Every
// Linear with a weight quantizer is quantized with QuIP# (ptq/quip_sharp.h: randomized Hadamard
// incoherence, BlockLDLQ, E8P codes, 2 bits per weight) from the Hessian of its inputs, in the
// true-sequential order of ptq/sequential.h (as GPTQ), so later layers see quantized inputs.
//
// How the result is a normal qforge model: the weight quantizers must be `fp16` (`--scheme fp16`, the
// dtype QuIP#'s kernels decode to). The method writes the effective dense weight
// diag(SV) T_out^T (Wscale * E8P(codes)) T_in diag(SU) into each latent weight, rounded to fp16 by the
// quantizer (the stored value is the rounded one, so the forward, a checkpoint and `qforge eval` of it
// agree bit for bit). That emulated forward is what the codes compute, up to fp16 rounding of the
// dense weight (relative 2^-11, far below the 2-bit error). The codes, signs and scales are returned by
// quip_sharp_model for an exporter; the checkpoint does not hold them (see docs/quip_sharp.md §4).
// Embedding / Conv2d weight quantizers keep round to nearest; activation quantizers are calibrated
// afterwards, as round to nearest does.
//
// Options ("quip_sharp:damp=0.01,seed=0,scale=1.03,tune=0"): damp (fraction of mean diag H, default 0.01),
// seed (sign vectors: layer i uses seed + 2i for SU and seed + 2i + 1 for SV; default 0), scale (the
// codebook scale: Wscale = RMS(W') / scale, default 1.03), tune (passes of quip-sharp's block
// coordinate descent after BlockLDLQ, ptq/quip_sharp.h step 4; default 0), rtn (an identity Hessian: no
// feedback, i.e. incoherence processing and nearest E8P rounding, the baseline BlockLDLQ is measured against).
#include <map>
#include <string>

#include "ptq/method.h"
#include "ptq/quip_sharp.h"

namespace qforge::ptq {

// The walk; returns each quantized Linear's codes, signs and scale by module name.
std::map<std::string, QuipSharpLayer> quip_sharp_model(layers::Module& model, const Calibration& calibration,
                                                       const std::string& options);

// The registry entry: quip_sharp_model, results dropped.
void quantize_quip_sharp(layers::Module& model, const Calibration& calibration, const std::string& options);
// The registry's Method::bits_per_weight: 2, whatever the model.
double quip_sharp_bits_per_weight(layers::Module& model, const std::string& options);

}  // namespace qforge::ptq
