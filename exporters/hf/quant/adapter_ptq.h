#pragma once
// From qforge's quantized weights to the layouts of docs/hf-quantized.md §6-§10 (the integer layouts'
// adapters are in adapter.h):
//  - fakequant::convert()'s QuantizedTensor of an int8 symmetric per-output-channel weight (ptq/llm_int8.h,
//    RTN) -> bitsandbytes LLM.int8() (§6);
//  - a QuantizedTensor in FP8 E4M3, per tensor or per output channel -> compressed-tensors
//    float-quantized (§7).
// W8A8 int8 (§8) takes adapter.h's GroupedIntWeight of an int8 per-channel weight as it is.
//  - fakequant::SpqrState (ptq/spqr.h's result, held by SpqrWeightQuantizer) -> SpQR (§9);
//  - fakequant::QuipSharpState (ptq/quip_sharp.h's result) -> quip-sharp's E8P12 layer (§10).
#include <optional>
#include <string>

#include "exporters/hf/quant/bitsandbytes_int8_layout.h"
#include "exporters/hf/quant/fp8_layout.h"
#include "exporters/hf/quant/quip_sharp_layout.h"
#include "exporters/hf/quant/spqr_layout.h"
#include "fakequant/quantized_tensor.h"
#include "fakequant/quip_sharp_weight.h"
#include "fakequant/spqr_weight.h"

namespace qforge::exporters::hf::quant {

// SCB = float32(scale * 127), CB = the codes. bitsandbytes dequantizes CB * SCB / 127, which differs from
// qforge's code * scale by float32 rounding only (docs/hf-quantized.md §6). std::invalid_argument naming
// `weight_name` for anything but int8 symmetric per-channel along out (a code of -128 is refused by validate).
BnbInt8Weight bnb_int8_weight(const std::string& weight_name, const fakequant::QuantizedTensor& q);

// The E4M3 codes and scales as they are; `options` gives the strategy the tensor must have and whether
// `input_scale` (the input quantizer's static scale) is needed. std::invalid_argument naming
// `weight_name` for another format or granularity.
Fp8Weight fp8_weight(const std::string& weight_name, const fakequant::QuantizedTensor& q, const Fp8Options& options,
                     std::optional<float> input_scale = std::nullopt);

// The SpQR state with the codes the quantizer's forward derives (SpqrWeightQuantizer::codes) and the
// latent weight [rows, cols] (original column order), whose values at the outlier positions are the
// fp16 outliers. Codes are put in the permuted order; since qforge's outlier *replaces* the dense value
// and the format *adds* it, each stored outlier is fp16(outlier - dense) with the dense value computed
// as the format does (spqr_dense_value); one that rounds to ±0 is left out. The format's fp16
// arithmetic for the statistics differs from qforge's float32 (docs/hf-quantized.md §9), so the loaded
// weight differs from qforge's forward by fp16 rounding. std::invalid_argument naming `weight_name`
// for bits, stat_bits, beta1 or beta2 other than 3, 3, 16, 16.
SpqrWeight spqr_weight(const std::string& weight_name, const fakequant::SpqrState& state,
                       const std::vector<int64_t>& codes, const std::vector<float>& latent_weight);

// The codes as they are; SU = fp16(su); Wscale folded into SV as quip-sharp's own quantizer does,
// SV = fp16(sv * wscale) and Wscale = 1. qforge's forward keeps Wscale and the signs in float32 and
// M = T_out^T G T_in as float, so the loaded weight differs from it by fp16 rounding of SV (and of
// fine-tuned SU). A row slice of a fused state is written whole (the caller names the fused module, and
// sets its fuse_scales). std::invalid_argument naming `weight_name` for sizes other than 2^k and 12 * 2^k
// (for those qforge's transform is quip-sharp's: quip_sharp_layout.cpp hadamard_transform).
QuipSharpWeight quip_sharp_weight(const std::string& weight_name, const fakequant::QuipSharpState& state);

}  // namespace qforge::exporters::hf::quant
