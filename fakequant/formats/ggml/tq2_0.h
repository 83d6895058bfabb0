#pragma once
// GGML TQ2_0 (ggml type 35, ternary, 2.0625 bpw): super-blocks of 256 values t·d with t in {−1, 0, 1},
// f16 d = max |x|; t + 1 in 2 bits, byte m of each 32-byte group g holds elements 128g + m + 32n at bits
// 2n (ggml-common.h block_tq2_0, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_tq2_0 {
  uint8_t qs[64];
  uint16_t d;  // f16
};
static_assert(sizeof(block_tq2_0) == 64 + 2, "wrong tq2_0 block size/padding");

// llama.cpp quantize_row_tq2_0_ref: d = max |x|, t = lround(x/d); no importance (llama.cpp ignores it).
void quantize_row_tq2_0_ref(const float* x, block_tq2_0* y, int64_t k, const float* importance = nullptr);
void quantize_row_tq2_0(const float* x, block_tq2_0* y, int64_t k, const float* importance = nullptr);
void dequantize_row_tq2_0(const block_tq2_0* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
