#pragma once
// GGML Q5_1 (ggml type 7): blocks of 32, f16 d, f16 m, u8 qh[4] (bit j = 5th bit of element j,
// little-endian u32), u8 qs[16] (low nibble element j, high nibble element j + 16); x = d·q + m
// (ggml-common.h block_q5_1, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_q5_1 {
  uint16_t d;  // f16 scale
  uint16_t m;  // f16 offset (the block minimum)
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(block_q5_1) == 2 * 2 + 4 + 32 / 2, "wrong q5_1 block size/padding");

// Without importance: llama.cpp quantize_row_q5_1_ref (d = (max − min)/31, m = min, q = trunc((x −
// min)/d + 0.5), no clamp, with the f32 d and min). With importance (k values, x one row): weights
// imp·sqrt(σ²_row + x²) and make_qkx3_quants(32, 31, −0.9, 0.05, 36), m = −(its min), as
// quantize_row_q5_1_impl.
void quantize_row_q5_1_ref(const float* x, block_q5_1* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q5_1(const block_q5_1* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
