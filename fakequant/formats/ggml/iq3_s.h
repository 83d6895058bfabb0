#pragma once
// GGML IQ3_S (ggml type 21, 3.4375 bpw): super-blocks of 256, f16 d, u8 qs[64] (low bytes of 9-bit
// indices into the 512-point grid iq3s_grid, 4 values each), qh[8] (their top bits, one byte per block
// of 32), signs[32] (one bit per element), scales[4] (a 4-bit scale s per block of 32);
// x = d·(1 + 2s)·g·±1 (ggml-common.h block_iq3_s, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_iq3_s {
  uint16_t d;  // f16
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t signs[32];
  uint8_t scales[4];
};
static_assert(sizeof(block_iq3_s) == 2 + 13 * 8 + 4, "wrong iq3_s block size/padding");

// llama.cpp quantize_iq3_s (quantize_row_iq3_s_impl, blocks of 32): weights x², or imp·sqrt(σ² + x²) with
// σ² = 2·mean(x²) of the 256; explicit signs; iq_search_scale (levels 0..7, 19 trials, final rounding of
// every group, iq_grid_search.h); d = 1.033·max scale/31 stored, s = clamp(nearest((scale·31/max scale −
// 1)/2), 0, 15).
void quantize_row_iq3_s(const float* x, block_iq3_s* y, int64_t k, const float* importance = nullptr);
void dequantize_row_iq3_s(const block_iq3_s* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
