#pragma once
// NF4 (4-bit NormalFloat), Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs",
// §3 and Appendix E: 16 values from standard-normal quantiles (7 negative, an exact zero, 8
// positive), normalized to [-1, 1]. The constants are the float32 table bitsandbytes uses for
// quant_type "nf4" (docs/numeric.md §1). Inputs are expected already divided by the block
// absmax, but any finite float is accepted (values beyond ±1 map to code 0 / 15).

#include <array>
#include <cstdint>

namespace qforge::fakequant {

inline constexpr std::array<float, 16> kNf4Values = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

// Code of the nearest table value (distance computed in double, so it is exact). An exact tie goes
// to the lower code, like bitsandbytes' decision tree, which moves up only when x > midpoint.
// NaN has no code: std::invalid_argument.
uint8_t encode_nf4(float value);

// code must be < 16 (std::invalid_argument otherwise).
float decode_nf4(uint8_t code);

}  // namespace qforge::fakequant
