#pragma once
// GGML IQ2_S (ggml type 22, 2.5625 bpw): super-blocks of 256, f16 d, u8 qs[64] (32 low bytes of 10-bit
// indices into the 1024-point grid iq2s_grid, then 32 bytes of explicit signs, one bit per element),
// qh[8] (the indices' top 2 bits, four per block of 32), scales[8] (two 4-bit scales s per block of 32);
// x = d·(0.5 + s)·0.25·g·±1 (ggml-common.h block_iq2_s, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_iq2_s {
  uint16_t d;  // f16
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t scales[8];
};
static_assert(sizeof(block_iq2_s) == 2 + 64 + 16, "wrong iq2_s block size/padding");

// llama.cpp quantize_iq2_s (quantize_row_iq2_s_impl): weights 0.25·σ² + x², or imp·sqrt(σ² + x²), σ² =
// 2·mean(x²) of the 256; per block of 16 explicit signs and iq_search_scale (IQ2_XS's: levels 0..2, 19
// trials, iq_grid_search.h with one neighbour distance); d = 0.9875·max scale/31 stored, s =
// clamp(nearest((scale·31/max scale − 1)/2), 0, 15). llama-quantize asks for an imatrix for IQ2_S layer
// weights, but the function (and this one) also encodes without.
void quantize_row_iq2_s(const float* x, block_iq2_s* y, int64_t k, const float* importance = nullptr);
void dequantize_row_iq2_s(const block_iq2_s* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
