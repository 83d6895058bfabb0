#pragma once
// GGML IQ1_M (ggml type 29, 1.75 bpw): super-blocks of 256 with no separate d field: u8 qs[32] (low bytes
// of 11-bit indices into iq1s_grid), qh[16] (per group of 8: 3 index bits and the sign of the shift δ,
// two groups per byte), scales[8] read as four u16: a 3-bit scale s per 16 elements in bits 0..11 and
// the f16 super-block scale d spread over their top nibbles; x = d·(2s + 1)·(g ± 0.125)
// (ggml-common.h block_iq1_m, iq1m_scale_t, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_iq1_m {
  uint8_t qs[32];
  uint8_t qh[16];
  uint8_t scales[8];
};
static_assert(sizeof(block_iq1_m) == 32 + 16 + 8, "wrong iq1_m block size/padding");

// Decoding only (no encoder yet: llama.cpp's needs the grid neighbour search of iq2xs_init_impl).
void dequantize_row_iq1_m(const block_iq1_m* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
