#pragma once
// GGML Q4_0 (ggml type 2): blocks of 32, f16 d, u8 qs[16] (low nibble element j, high nibble element
// j + 16); x = d·(q − 8) (ggml-common.h block_q4_0, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_q4_0 {
  uint16_t d;  // f16
  uint8_t qs[16];
};
static_assert(sizeof(block_q4_0) == 2 + 32 / 2, "wrong q4_0 block size/padding");

// Without importance: llama.cpp quantize_row_q4_0_ref (d = max/−8 where max is the signed value of
// largest magnitude, q = min(15, trunc(x/d + 8.5))). With importance (k values, x one row as
// llama.cpp's quantize_q4_0(src, dst, 1, k, imatrix)): weights imp·sqrt(σ²_row + x²) and
// make_qx_quants(32, 8), as quantize_row_q4_0_impl.
void quantize_row_q4_0_ref(const float* x, block_q4_0* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q4_0(const block_q4_0* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
