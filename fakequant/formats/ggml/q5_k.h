#pragma once
// GGML Q5_K (ggml type 13): super-blocks of 256 = 8 sub-blocks of 32 (ggml-common.h block_q5_K,
// docs/gguf.md §6). f16 d, f16 dmin, 12 bytes of 6-bit sub-block scales and mins packed as Q4_K's
// (q4_k.h), u8 qh[32], u8 qs[128]; x = d·sc_j·q − dmin·m_j with q in [0, 31].
//   qs: chunk c (32 bytes) byte l holds the low 4 bits of element 64c + l (low nibble) and 64c + 32 + l
//       (high nibble), as Q4_K; the 5th bit of element 64c + l is bit 2c of qh[l], of 64c + 32 + l bit 2c + 1.

#include <cstdint>

#include "fakequant/formats/ggml/q4_k.h"  // kQKK, the 6-bit scale packing and the shared search

namespace qforge::fakequant::ggml {

struct block_q5_K {
  uint16_t d;     // f16 super-block scale for the sub-block scales
  uint16_t dmin;  // f16 super-block scale for the sub-block mins
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(block_q5_K) == 2 * 2 + 12 + 256 / 8 + 256 / 2, "wrong q5_K block size/padding");

// Without importance: llama.cpp quantize_row_q5_K_ref (search_k4_super_block with nmax 31 and
// make_qkx2_quants(rmin −0.5, rdelta 0.1, 15 steps)); with importance (k values) quantize_row_q5_K_impl
// (the shared importance path of search_k4_super_block, q4_k.h).
void quantize_row_q5_K_ref(const float* x, block_q5_K* y, int64_t k, const float* importance = nullptr);
// The same bytes with the scale search's candidates evaluated 16 at a time (AVX-512; else the reference).
void quantize_row_q5_K(const float* x, block_q5_K* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q5_K_ref(const block_q5_K* x, float* y, int64_t k);
// The same floats, 16 at a time (AVX-512; else the reference).
void dequantize_row_q5_K(const block_q5_K* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
