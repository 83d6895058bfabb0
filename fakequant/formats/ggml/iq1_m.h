#pragma once
// GGML IQ1_M (ggml type 29, 1.75 bpw): super-blocks of 256 with no separate d field: u8 qs[32] (low bytes
// of 11-bit indices into iq1s_grid), qh[16] (per group of 8: 3 index bits and the sign of the shift δ,
// two groups per byte), scales[8] read as four u16: a 3-bit scale s per 16 elements in bits 0..11 and
// the f16 super-block scale d spread over their top nibbles; x = d·(2s + 1)·(g ± 0.125)
// (ggml-common.h block_iq1_m, iq1m_scale_t, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_iq1_m {
  uint8_t qs[32];
  uint8_t qh[16];
  uint8_t scales[8];
};
static_assert(sizeof(block_iq1_m) == 32 + 16 + 8, "wrong iq1_m block size/padding");

// llama.cpp quantize_iq1_m (quantize_row_iq1_m_impl): weights x², or imp·sqrt(σ² + x²) with σ² = 2·mean(x²)
// of the 256; per block of 16 the exact weighted least-squares split into −1, 0, 1 with a shift ±δ per group
// of 8 (four patterns), groups off the grid moved to their best neighbour, a refit when any moved; 3-bit
// block scales s = clamp(nearest((scale·15/max scale − 1)/2), 0, 7); the stored d is the least-squares d
// over the whole super-block with those levels and scales, times 1.1125. llama-quantize asks for an
// imatrix for IQ1_M layer weights, but the function (and this one) also encodes without.
void quantize_row_iq1_m(const float* x, block_iq1_m* y, int64_t k, const float* importance = nullptr);
void dequantize_row_iq1_m(const block_iq1_m* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
