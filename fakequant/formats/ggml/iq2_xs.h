#pragma once
// GGML IQ2_XS (ggml type 17, 2.3125 bpw): super-blocks of 256, f16 d, u16 qs[32] (9-bit index into the
// 512-point grid iq2xs_grid, 7-bit sign field of ksigns_iq2xs), u8 scales[8] (two 4-bit scales s per
// block of 32, one per 16); x = d·(0.5 + s)·0.25·g·±1 (ggml-common.h block_iq2_xs, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_iq2_xs {
  uint16_t d;  // f16
  uint16_t qs[32];
  uint8_t scales[8];
};
static_assert(sizeof(block_iq2_xs) == 2 + 64 + 8, "wrong iq2_xs block size/padding");

// llama.cpp quantize_iq2_xs (quantize_row_iq2_xs_impl); importance is required (std::invalid_argument
// without it, as llama.cpp refuses): weights imp·sqrt(σ² + x²), σ² = mean(x²) of the 256; per block of 16
// the signs folded into |x| (iq_fold_signs) and iq_search_scale (levels 0..2, 19 trials); d = max
// scale/31, s = clamp(nearest((scale/d − 1)/2), 0, 15).
void quantize_row_iq2_xs(const float* x, block_iq2_xs* y, int64_t k, const float* importance = nullptr);
void dequantize_row_iq2_xs_ref(const block_iq2_xs* x, float* y, int64_t k);
// The same floats, 16 at a time (AVX-512; else the reference).
void dequantize_row_iq2_xs(const block_iq2_xs* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
