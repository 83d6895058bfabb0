#pragma once
// GGML Q3_K (ggml type 11): super-blocks of 256 = 16 sub-blocks of 16 (ggml-common.h block_q3_K,
// docs/gguf.md §6). u8 hmask[32], u8 qs[64], u8 scales[12], f16 d; x = d·(s_j − 32)·(q − 4) with q in
// [0, 7] and 6-bit s_j.
//   q: low 2 bits as Q2_K's qs (element 128h + 32s + l: bits 2s of qs[32h + l]); the high bit of element
//      e is bit e / 32 of hmask[e % 32].
//   s_j: low 4 bits in scales[j] (j < 8, low nibble) or scales[j − 8] (j ≥ 8, high nibble); high 2
//      bits are bits 2(j / 4)..2(j / 4) + 1 of scales[8 + j % 4].

#include <cstdint>

#include "fakequant/formats/ggml/q4_k.h"  // kQKK

namespace qforge::fakequant::ggml {

struct block_q3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;  // f16 super-block scale
};
static_assert(sizeof(block_q3_K) == 2 + 256 / 4 + 256 / 8 + 12, "wrong q3_K block size/padding");

// The 6-bit code s_j (0..63) of sub-block j, and its packing into scales[12].
int q3_K_scale(const uint8_t* scales, int j);
void pack_scales_q3_K(const int* codes, uint8_t* scales);

// Without importance: llama.cpp quantize_row_q3_K_ref (make_q3_quants(16, 4) per sub-block, then
// 6-bit signed sub-block scales with d = max_scale/−32). With importance (k values):
// quantize_row_q3_K_impl (weights imp·sqrt(σ² + x²), σ² = 2·mean(x²) over the super-block,
// make_qx_quants(16, 4) per sub-block and make_qx_quants(16, 32) weighted by the sub-block weight sums
// for the scales). Both re-derive the levels from the f16-rounded d·(s_j − 32); a sub-block whose
// stored scale is 0 keeps the levels of its search.
void quantize_row_q3_K_ref(const float* x, block_q3_K* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q3_K_ref(const block_q3_K* x, float* y, int64_t k);
// The same floats, 16 at a time (AVX-512; else the reference).
void dequantize_row_q3_K(const block_q3_K* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
