#pragma once
// GGML IQ2_S (ggml type 22, 2.5625 bpw): super-blocks of 256, f16 d, u8 qs[64] (32 low bytes of 10-bit
// indices into the 1024-point grid iq2s_grid, then 32 bytes of explicit signs, one bit per element),
// qh[8] (the indices' top 2 bits, four per block of 32), scales[8] (two 4-bit scales s per block of 32);
// x = d·(0.5 + s)·0.25·g·±1 (ggml-common.h block_iq2_s, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_iq2_s {
  uint16_t d;  // f16
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t scales[8];
};
static_assert(sizeof(block_iq2_s) == 2 + 64 + 16, "wrong iq2_s block size/padding");

// Decoding only (no encoder yet: llama.cpp's needs the grid neighbour search of iq2xs_init_impl).
void dequantize_row_iq2_s(const block_iq2_s* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
