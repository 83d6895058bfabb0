#pragma once
// GGML IQ3_XXS (ggml type 18, 3.0625 bpw): super-blocks of 256, f16 d, u8 qs[96]: 64 indices into the
// 256-point grid iq3xxs_grid (4 values each), then per block of 32 a u32 with four 7-bit sign fields
// (ksigns_iq2xs) and a 4-bit scale s in bits 28..31; x = d·(0.5 + s)·0.5·g·±1 (ggml-common.h
// block_iq3_xxs, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_iq3_xxs {
  uint16_t d;  // f16
  uint8_t qs[96];
};
static_assert(sizeof(block_iq3_xxs) == 2 + 96, "wrong iq3_xxs block size/padding");

// llama.cpp quantize_iq3_xxs (quantize_row_iq3_xxs_impl with the 256-point grid): weights x², or
// imp·sqrt(σ² + x²) with σ² = 2·mean(x²) of the 256; per block of 32 the signs folded into |x|
// (iq_fold_signs), iq_search_scale (levels 0..7, 31 trials, iq_grid_search.h); d = 1.0125·max scale/31
// stored, s = clamp(nearest((scale·31/max scale − 1)/2), 0, 15). llama-quantize asks for an imatrix for
// IQ3_XXS layer weights, but the function (and this one) also encodes without.
void quantize_row_iq3_xxs(const float* x, block_iq3_xxs* y, int64_t k, const float* importance = nullptr);
void dequantize_row_iq3_xxs(const block_iq3_xxs* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
