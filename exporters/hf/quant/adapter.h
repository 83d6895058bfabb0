#pragma once
// From qforge's quantized weights to the Hugging Face layouts' input (hf_quant.h GroupedIntWeight):
//  - fakequant::convert()'s QuantizedTensor (QAT and RTN/static-group GPTQ/AWQ weights): integer
//    format, per-group along `in`, per-channel along `out` or per-tensor;
//  - fakequant::GroupIndexState (GPTQ act-order with dynamic groups, ptq/gptq_method.h), which
//    convert() refuses and which already is the unsigned form with g_idx (docs/gptq.md §3);
//  - fakequant::Packed4BitWeight (the QLoRA base weight) for bitsandbytes_layout.h.
// Scales stay float32 here; the packers round them to the file's F16 / BF16, which is exact when the
// quantizer kept F16 / BF16 scales (QuantizerSpec::scale_dtype), the setting to train with for these
// exports (docs/hf-quantized.md §1).
#include <memory>
#include <string>

#include "exporters/hf/quant/bitsandbytes_layout.h"
#include "exporters/hf/quant/hf_quant.h"
#include "fakequant/group_index_weight.h"
#include "fakequant/packed/packed_4bit.h"
#include "fakequant/packed/packed_group_index.h"
#include "fakequant/quantized_tensor.h"

namespace qforge::exporters::hf::quant {

// "model.layers.0.mlp.up_proj.weight" -> "model.layers.0.mlp.up_proj" (the prefix of the file tensors).
std::string module_prefix(const std::string& weight_name);

// Symmetric codes c in [-2^(b-1), 2^(b-1)) become c + 2^(b-1) with zero 2^(b-1); asymmetric codes and
// zero points are already unsigned. Per-channel (axis 0) and per-tensor weights become one group per
// row (group_size = in); two-level block scales enter as their dequantized per-group values. Throws
// std::invalid_argument naming `weight_name` for anything else: a non-integer format, a tensor that is
// not 2-D, per-channel along `in`.
GroupedIntWeight grouped_int_weight(const std::string& weight_name, const fakequant::QuantizedTensor& q);

// The group-index representation with the codes the quantizer's forward derives from `weight`
// (fakequant::GroupIndexWeightQuantizer::codes).
GroupedIntWeight grouped_int_weight(const std::string& weight_name, const fakequant::GroupIndexState& state,
                                    const std::vector<int64_t>& codes);

// The other way: a weight read from a folder, in its codes, as a frozen QLoRA base (the integers, scales,
// zero points and g_idx as they are; fakequant/packed/packed_group_index.h). validate(w) first.
std::shared_ptr<const fakequant::PackedGroupIndexWeight> packed_group_index(const GroupedIntWeight& w);

// A frozen QLoRA base weight (NF4 / FP4 blocks, docs/numeric.md §5) for the bitsandbytes layout.
Bnb4BitWeight bnb_4bit_weight(const std::string& weight_name, const fakequant::Packed4BitWeight& packed);

}  // namespace qforge::exporters::hf::quant
