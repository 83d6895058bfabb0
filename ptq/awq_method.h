#pragma once
// AWQ on a Llama: the "awq" method of ptq/registry.cpp (Lin et al. 2023; the searches are ptq/awq.h).
// Per decoder layer, four groups of layers that share an input get activation-aware scales, each judged
// on the output of the block that reads them (the reference's auto_scale_block):
//   input_layernorm -> (q, k, v), judged on the attention output; the 1/s goes into the norm weight;
//   v -> o, judged on o's output; the 1/s goes into v's output rows. With grouped-query attention o's
//     input channels come from v's outputs repeated over the heads that share a KV head, so the scale is
//     tied over those heads (sx averaged over them): the exact generalisation of the reference, which
//     skips this pair when the shapes differ;
//   post_attention_layernorm -> (gate, up), judged on the MLP output; the 1/s goes into the norm;
//   up -> down, judged on down's output; the 1/s goes into up's output rows.
// Folding is exact: the unquantized model computes the same function. Then v, o, gate, up and down get
// the clip search (not q and k, as the reference), on at most 512 of the (scaled) calibration inputs,
// and the model is quantized with round to nearest (ptq/rtn.h), whose grid the searches used.
// Calibration inputs of every layer are the FP32 model's (collected once, before any change), as the
// reference feeds each layer the float outputs of the previous one. Option: "no_clip".
#include <string>

#include "layers/llama.h"
#include "ptq/method.h"

namespace qforge::ptq {

// The scales (folded) and, with `clip`, the clipping, without quantizing: afterwards the float model
// computes the same function unless clipped. The weight quantizers' grids (int_grid.h) drive the search.
void apply_awq(layers::LlamaForCausalLM& model, const Calibration& calibration, bool clip);

// The registry entry: apply_awq, then round to nearest.
void quantize_awq(layers::Module& model, const Calibration& calibration, const std::string& options);

}  // namespace qforge::ptq
