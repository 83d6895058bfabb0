#pragma once
// GGML Q5_0 (ggml type 6): blocks of 32, f16 d, u8 qh[4] (bit j = 5th bit of element j, little-endian
// u32), u8 qs[16] (low nibble element j, high nibble element j+16); x = d·(q − 16) (ggml-common.h).

#include <cstdint>

namespace qforge::fakequant::ggml {

constexpr int64_t kQ5_0BlockElements = 32;

struct block_q5_0 {
  uint16_t d;  // f16
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(block_q5_0) == 2 + 4 + 16, "wrong q5_0 block size/padding");

// Without importance: llama.cpp quantize_row_q5_0_ref (d = max/−16 where max is the signed value of
// largest magnitude, q = min(31, trunc(x/d + 16.5))). With importance (k values, x treated as one row as
// llama.cpp's quantize_q5_0(src, dst, 1, k, imatrix)): weights imp·sqrt(σ²_row + x²) and make_qx_quants.
void quantize_row_q5_0_ref(const float* x, block_q5_0* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q5_0(const block_q5_0* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
