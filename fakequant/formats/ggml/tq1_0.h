#pragma once
// GGML TQ1_0 (ggml type 34, ternary, 1.6875 bpw): super-blocks of 256 values t·d with t in {−1, 0, 1},
// f16 d = max |x|; the trits are packed five to a byte as the base-3 number t0 t1 t2 t3 t4 (t0 most
// significant) scaled to a byte by ceil(q·256/243), so trit n reads back as ((u8)(byte·3^n)·3) >> 8.
// Byte m of qs[0..32) holds elements m + 32n, qs[32..48) elements 160 + m + 16n, qh[0..4) (four trits
// and a zero) elements 240 + m + 4n (ggml-common.h block_tq1_0, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_tq1_0 {
  uint8_t qs[48];
  uint8_t qh[4];
  uint16_t d;  // f16
};
static_assert(sizeof(block_tq1_0) == 48 + 4 + 2, "wrong tq1_0 block size/padding");

// llama.cpp quantize_row_tq1_0_ref: d = max |x|, t = lround(x/d) (halves away from zero). llama.cpp
// ignores an importance matrix for the ternary types; so does this.
void quantize_row_tq1_0_ref(const float* x, block_tq1_0* y, int64_t k, const float* importance = nullptr);
void quantize_row_tq1_0(const float* x, block_tq1_0* y, int64_t k, const float* importance = nullptr);
void dequantize_row_tq1_0(const block_tq1_0* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
