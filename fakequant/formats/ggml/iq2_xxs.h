#pragma once
// GGML IQ2_XXS (ggml type 16, 2.0625 bpw): super-blocks of 256, f16 d, then per block of 32 two u32:
// the first holds four u8 indices into the 256-point grid iq2xxs_grid (8 values each), the second four
// 7-bit sign fields (ksigns_iq2xs) and a 4-bit block scale s in bits 28..31; x = d·(0.5 + s)·0.25·g·±1
// (ggml-common.h block_iq2_xxs, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_iq2_xxs {
  uint16_t d;  // f16
  uint16_t qs[32];
};
static_assert(sizeof(block_iq2_xxs) == 2 + 64, "wrong iq2_xxs block size/padding");

// llama.cpp quantize_iq2_xxs (quantize_row_iq2_xxs_impl); importance is required (std::invalid_argument
// without it, as llama.cpp refuses): weights imp·sqrt(σ² + x²), σ² = mean(x²) of the 256; per block of 32
// the signs folded into |x| (fold_signs), make_qp_quants(4) as the start, 13 trial scales each rounded to
// levels and moved onto the grid by the neighbour search (iq_grid_search.h), the weighted least-squares
// scale of the best; d = max scale/31, s = clamp(nearest((scale/d − 1)/2), 0, 15).
void quantize_row_iq2_xxs(const float* x, block_iq2_xxs* y, int64_t k, const float* importance = nullptr);
void dequantize_row_iq2_xxs(const block_iq2_xxs* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
