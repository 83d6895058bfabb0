#pragma once
// bitsandbytes' "fp4" 4-bit table and its encoder (docs/numeric.md §2): what a transformers
// `load_in_4bit` / `bnb_4bit_quant_type: "fp4"` checkpoint stores. Not OCP E2M1 (fp4.h): the low three
// bits give the magnitudes 0, 1/192, 2/3, 1, 1/3, 1/2, 1/6, 1/4 (bitsandbytes functional.py
// get_4bit_type("fp4"): [0, 0.0625, 8, 12, 4, 6, 2, 3] / 12 in float32); bit 3 is the sign. Its code 8 is
// the source's "-0", the Python integer 0, so the table holds +0.0 there.

#include <array>
#include <cstdint>

namespace qforge::fakequant {

// The 16 values as QuantState.code holds them (float32 k / 12, bit for bit).
const std::array<float, 16>& bnb_fp4_values();

// The code of a value already multiplied by 1/absmax, as bitsandbytes' CUDA kernel dQuantizeFP4
// (csrc/kernels.cu) picks it: sign = x < 0, then a binary search of |x| against its float pivots
// 0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333 (the midpoints, rounded
// as the source writes them), moving up only when |x| > pivot: a tie goes to the smaller magnitude.
// -0.0 gets code 0; a negative value below the first pivot gets code 8 (+0.0). NaN compares false
// everywhere and gets code 0, as in the kernel (an all-zero block scales 0 by 1/0). Values beyond ±1
// get ±1 (code 3 / 11).
uint8_t encode_bnb_fp4(float normalized);

}  // namespace qforge::fakequant
