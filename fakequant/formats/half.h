#pragma once
// 16-bit float codecs.
//   FP16: IEEE 754-2008 binary16 (1/5/10, bias 15): max 65504, min normal 2^-14, min subnormal 2^-24.
//         Round to nearest even; overflow -> ±inf; NaN stays NaN (quiet, sign kept).
//   BF16: bfloat16 = the upper 16 bits of an IEEE binary32 after round to nearest even
//         (u + 0x7FFF + ((u >> 16) & 1)) >> 16, as PyTorch and ggml compute it; NaN -> (u >> 16) | 0x40
//         so it stays a quiet NaN even when the payload sits in the dropped low bits.
//         f32 subnormals are kept (not flushed), so bf16 subnormals exist.

#include <cstdint>

namespace qforge::fakequant {

uint16_t encode_fp16(float value);
float decode_fp16(uint16_t code);

uint16_t encode_bf16(float value);
float decode_bf16(uint16_t code);

// Nearest representable value, returned as float (the fake-quantization of `value`).
float round_to_fp16(float value);
float round_to_bf16(float value);

}  // namespace qforge::fakequant
