#pragma once
// bitsandbytes' signed 8-bit "dynamic" quantization map (functional.py create_dynamic_map(signed=True,
// max_exponent_bits=7, total_bits=8); Dettmers 2016, "8-Bit Approximations for Parallelism in Deep
// Learning"). It is the code table of the second quantization level of QLoRA's double quantization
// (Dettmers et al. 2023, §3: quantize_4bit(compress_statistics=True) calls quantize_blockwise(absmax,
// blocksize=256) with this default code). 256 sorted float32 values in [-0.99297, 1]: index 127 is 0,
// index 255 is 1.0; the table is asymmetric (no -1).

#include <array>
#include <cstdint>

namespace qforge::fakequant {

// The 256 values, bit-identical to torch.float32 create_dynamic_map() (generated once with torch 1.13
// from the bitsandbytes formula; see tests/fakequant/test_blockwise_4bit.cpp for spot values).
const std::array<float, 256>& dynamic_map();

// Index of the nearest map value (ties to the lower index). NaN: std::invalid_argument.
uint8_t encode_dynamic(float value);

}  // namespace qforge::fakequant
