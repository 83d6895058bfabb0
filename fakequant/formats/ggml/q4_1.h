#pragma once
// GGML Q4_1 (ggml type 3): blocks of 32, f16 d, f16 m, u8 qs[16] (low nibble element j, high nibble
// element j + 16); x = d·q + m (ggml-common.h block_q4_1, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_q4_1 {
  uint16_t d;  // f16 scale
  uint16_t m;  // f16 offset (the block minimum)
  uint8_t qs[16];
};
static_assert(sizeof(block_q4_1) == 2 * 2 + 32 / 2, "wrong q4_1 block size/padding");

// Without importance: llama.cpp quantize_row_q4_1_ref (d = (max − min)/15, m = min, q = min(15,
// trunc((x − min)/d + 0.5)) with the f32 d and min). With importance (k values, x one row as
// llama.cpp's quantize_q4_1(src, dst, 1, k, imatrix)): weights imp·sqrt(σ²_row + x²) and
// make_qkx3_quants(32, 15, −0.9, 0.05, 36), m = −(its min), as quantize_row_q4_1_impl.
void quantize_row_q4_1_ref(const float* x, block_q4_1* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q4_1(const block_q4_1* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
