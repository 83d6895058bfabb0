#pragma once
// GGML Q2_K (ggml type 10): super-blocks of 256 = 16 sub-blocks of 16 (ggml-common.h block_q2_K,
// docs/gguf.md §6). u8 scales[16] (low nibble: 4-bit scale sc_j, high nibble: 4-bit min m_j of
// sub-block j), u8 qs[64] (2-bit levels), f16 d, f16 dmin; x = d·sc_j·q − dmin·m_j with q in [0, 3].
// Half h (128 elements) uses qs[32h..32h+31]; element 128h + 32s + l (s 0..3, l 0..31) is bits 2s..2s+1
// of qs[32h + l].

#include <cstdint>

#include "fakequant/formats/ggml/q4_k.h"  // kQKK

namespace qforge::fakequant::ggml {

struct block_q2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;     // f16 super-block scale for the sub-block scales
  uint16_t dmin;  // f16 super-block scale for the sub-block mins
};
static_assert(sizeof(block_q2_K) == 2 * 2 + 256 / 16 + 256 / 4, "wrong q2_K block size/padding");

// Without importance: llama.cpp quantize_row_q2_K_ref (per sub-block make_qkx2_quants(nmax 3, rmin
// −0.5, rdelta 0.1, 15 steps) scored by the weighted absolute error with weights |x|; 4-bit scales and
// mins relative to the largest, d = max/15). With importance (k values): quantize_row_q2_K_impl
// (weights imp·sqrt(σ² + x²), σ² = mean(x²) over the super-block, make_qkx3_quants(−0.9, 0.05, 36),
// make_qp_quants(15) for the 4-bit scales/mins). Both re-derive the levels from the f16-rounded d·sc
// and dmin·m; a sub-block whose stored scale is 0 keeps the levels of its search.
void quantize_row_q2_K_ref(const float* x, block_q2_K* y, int64_t k, const float* importance = nullptr);
void quantize_row_q2_K(const float* x, block_q2_K* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q2_K_ref(const block_q2_K* x, float* y, int64_t k);
// The same floats, 16 at a time (AVX-512; else the reference).
void dequantize_row_q2_K(const block_q2_K* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
