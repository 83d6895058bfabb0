#pragma once
// From qforge's quantized weights to the layouts of docs/hf-quantized.md §6-§8 (the integer layouts'
// adapters are in adapter.h):
//  - fakequant::convert()'s QuantizedTensor of an int8 symmetric per-output-channel weight (ptq/llm_int8.h,
//    RTN) -> bitsandbytes LLM.int8() (§6);
//  - a QuantizedTensor in FP8 E4M3, per tensor or per output channel -> compressed-tensors
//    float-quantized (§7).
// W8A8 int8 (§8) takes adapter.h's GroupedIntWeight of an int8 per-channel weight as it is.
#include <optional>
#include <string>

#include "exporters/hf/quant/bitsandbytes_int8_layout.h"
#include "exporters/hf/quant/fp8_layout.h"
#include "fakequant/quantized_tensor.h"

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

}  // namespace qforge::exporters::hf::quant
