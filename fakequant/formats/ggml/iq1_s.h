#pragma once
// GGML IQ1_S (ggml type 19, 1.5625 bpw): super-blocks of 256, f16 d, u8 qs[32] (low bytes of 11-bit
// indices into the 2048-point grid iq1s_grid, values −1, 0, 1), u16 qh[8] per block of 32: the indices'
// top 3 bits (3 per group of 8), a 3-bit scale s (bits 12..14) and the sign of the shift δ (bit 15);
// x = d·(2s + 1)·(g ± 0.125) (ggml-common.h block_iq1_s, IQ1S_DELTA, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

constexpr float kIQ1Delta = 0.125f;  // IQ1S_DELTA = IQ1M_DELTA

struct block_iq1_s {
  uint16_t d;  // f16
  uint8_t qs[32];
  uint16_t qh[8];
};
static_assert(sizeof(block_iq1_s) == 2 + 32 + 16, "wrong iq1_s block size/padding");

// llama.cpp quantize_iq1_s (quantize_row_iq1_s_impl); importance is required (std::invalid_argument without
// it, as llama.cpp refuses): weights imp·sqrt(σ² + x²), σ² = 2·mean(x²) of the 256; per block of 32 the
// exact weighted least-squares split of the sorted values into −1, 0, 1 for both shifts ±δ, groups off the
// grid moved to their best neighbour (iq1_best_neighbour), a refit when any moved; d = 1.125·max scale/15
// stored, s = clamp(nearest((scale·15/max scale − 1)/2), 0, 7), bit 15 = shift −δ.
void quantize_row_iq1_s(const float* x, block_iq1_s* y, int64_t k, const float* importance = nullptr);
void dequantize_row_iq1_s(const block_iq1_s* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
