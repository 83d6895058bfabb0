#pragma once
// GGML Q6_K (ggml type 14): super-blocks of 256 = 16 sub-blocks of 16 (ggml-common.h, docs/gguf.md §6).
// u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), i8 scales[16], f16 d; x = d·scales[e/16]·(q6 − 32).
// Half h (128 elements) uses ql[64h..], qh[32h..]; element 128h + 32k + l (k 0..3, l 0..31) takes its
// low bits from ql[64h + l + 32(k mod 2)] (low nibble for k < 2, high for k ≥ 2) and its high bits from
// (qh[32h + l] >> 2k) & 3.

#include <algorithm>
#include <cstdint>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/q4_k.h"  // kQKK

namespace qforge::fakequant::ggml {

struct block_q6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;  // f16
};
static_assert(sizeof(block_q6_K) == 2 + 256 / 16 + 3 * 256 / 4, "wrong q6_K block size/padding");

// llama.cpp quantize_row_q6_K_ref (make_qx_quants(16, 32) per sub-block with weights x², then int8
// sub-block scales with d = max_scale/−128); with importance (k values) quantize_row_q6_K_impl, which
// passes the importance itself as the make_qx_quants weights.
void quantize_row_q6_K_ref(const float* x, block_q6_K* y, int64_t k, const float* importance = nullptr);
// The same bytes with make_qx_quants' candidates evaluated 16 at a time (AVX-512; else the reference).
void quantize_row_q6_K(const float* x, block_q6_K* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q6_K_ref(const block_q6_K* x, float* y, int64_t k);
// The same floats, 16 at a time (AVX-512; else the reference).
void dequantize_row_q6_K(const block_q6_K* x, float* y, int64_t k);

// The stored level (q6 + 32, in [0, 63]) of x on a sub-block's fixed grid x = d·q6 (the codec's final
// rounding; GPTQ into ggml types rounds with it too, ptq/gptq_ggml.h).
inline int level_q6_K(float x, float d) { return std::max(-32, std::min(31, nearest_int(x / d))) + 32; }

}  // namespace qforge::fakequant::ggml
