#pragma once
// GGML IQ4_XS (ggml type 23): super-blocks of 256, f16 d, 6-bit sub-block scales ls of 8 blocks of 32
// (low 4 bits in scales_l nibbles, high 2 bits in scales_h), u8 qs[128] packed as IQ4_NL's (low nibble
// element j, high nibble j+16 of each block of 32); x = d·(ls − 32)·K[q] with IQ4_NL's table
// (ggml-common.h block_iq4_xs, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_iq4_xs {
  uint16_t d;  // f16
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};
static_assert(sizeof(block_iq4_xs) == 2 + 2 + 4 + 128, "wrong iq4_xs block size/padding");

// llama.cpp quantize_iq4_xs (quantize_row_iq4_nl_impl with super-block 256, block 32, ntry 7): weights
// x² or imp·sqrt(σ² + x²) with σ² = 2·mean(x²) over the 256; each block's scale by IQ4_NL's search;
// d = −max_scale/32 (max_scale the block scale of largest magnitude), ls = clamp(round(scale/d), −32,
// 31) and the levels re-derived with 1/(d·ls).
void quantize_row_iq4_xs_ref(const float* x, block_iq4_xs* y, int64_t k, const float* importance = nullptr);
// The same bytes with each block's 16 candidate scales searched in parallel (search_iq4_block_scale).
void quantize_row_iq4_xs(const float* x, block_iq4_xs* y, int64_t k, const float* importance = nullptr);
void dequantize_row_iq4_xs(const block_iq4_xs* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
