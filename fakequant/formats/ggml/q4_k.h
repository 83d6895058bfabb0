#pragma once
// GGML Q4_K (ggml type 12): super-blocks of 256 = 8 sub-blocks of 32 (ggml-common.h, docs/gguf.md §6).
// f16 d, f16 dmin, 12 bytes of 6-bit sub-block scales sc_j and mins m_j, 128 bytes of nibbles;
// x = d·sc_j·q − dmin·m_j with q in [0, 15].
//   scales[0..3]:  low 6 bits sc_0..sc_3, bits 6-7 = high 2 bits of sc_4..sc_7
//   scales[4..7]:  low 6 bits m_0..m_3,   bits 6-7 = high 2 bits of m_4..m_7
//   scales[8..11]: low nibble = low 4 bits of sc_4..sc_7, high nibble = low 4 bits of m_4..m_7
//   qs: chunk c (32 bytes) byte l holds element 64c+l (low nibble) and 64c+32+l (high nibble).

#include <algorithm>
#include <cstdint>

#include "fakequant/formats/ggml/block_common.h"

namespace qforge::fakequant::ggml {

constexpr int64_t kQKK = 256;  // QK_K, the k-quant super-block size

struct block_q4_K {
  uint16_t d;     // f16 super-block scale for the sub-block scales
  uint16_t dmin;  // f16 super-block scale for the sub-block mins
  uint8_t scales[12];
  uint8_t qs[128];
};
static_assert(sizeof(block_q4_K) == 2 * 2 + 12 + 256 / 2, "wrong q4_K block size/padding");

// 6-bit packing of sub-block j's (scale, min), ggml's get_scale_min_k4 and its inverse.
void get_scale_min_k4(int j, const uint8_t* scales, uint8_t* sc, uint8_t* m);
// Chunk c of a Q4_K/Q5_K super-block (32 bytes) holds sub-block 2c in its low nibbles and 2c + 1 in its
// high ones: their d·scale and dmin·min, as every decoder of the two types computes them.
struct ChunkScales {
  float d1, m1, d2, m2;
};
ChunkScales chunk_scales_k4(const uint8_t* scales, int c, float d, float dmin);
void pack_scales_mins_k4(const uint8_t* sc, const uint8_t* m, uint8_t* scales);

// The super-block search Q4_K and Q5_K share (ggml-quants.c quantize_row_q{4,5}_K_ref and _impl up to
// the packing of the levels): 8 sub-blocks of 32, levels in [0, nmax]. Without importance each sub-block
// runs make_qkx2_quants(nmax, plain.rmin, plain.rdelta, plain.nstep) with weights rms(sub-block) + |x|,
// and the 6-bit scales/mins are rounded relative to the largest (d = max/63). With importance (256
// values) the weights are imp·sqrt(σ² + x²), σ² = 2·mean(x²) over the super-block, the search is
// make_qkx3_quants(−0.9, 0.05, 36) and make_qp_quants picks the 6-bit scales/mins. Both then re-derive
// each level from the f16-rounded d·sc and dmin·m; a sub-block whose stored scale is 0 keeps its search
// levels. Writes d, dmin, scales[12] and L[256].
struct KQuantPlainSearch {
  float rmin, rdelta;
  int nstep;
};
void search_k4_super_block(const float* x, const float* importance, int nmax, const KQuantPlainSearch& plain,
                           uint16_t& d, uint16_t& dmin, uint8_t* scales, uint8_t* L, bool vectorized);

// Without importance: llama.cpp quantize_row_q4_K_ref (per sub-block make_qkx2_quants(nmax 15,
// rmin −1, rdelta 0.1, 20 steps) with weights rms(sub-block) + |x|; 6-bit scales/mins relative to the
// largest). With importance (k values): quantize_row_q4_K_impl (weights imp·sqrt(σ² + x²),
// σ² = 2·mean(x²) over the super-block, make_qkx3_quants(−0.9, 0.05, 36), make_qp_quants for the 6-bit
// scales/mins). Both re-derive the levels from the f16-rounded d·sc and dmin·m.
void quantize_row_q4_K_ref(const float* x, block_q4_K* y, int64_t k, const float* importance = nullptr);
// The same bytes with the scale search's candidates evaluated 16 at a time (AVX-512; else the reference).
void quantize_row_q4_K(const float* x, block_q4_K* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q4_K_ref(const block_q4_K* x, float* y, int64_t k);
// The same floats, 16 at a time (AVX-512; else the reference).
void dequantize_row_q4_K(const block_q4_K* x, float* y, int64_t k);

// The level of x on a sub-block's fixed grid x = d·q − dm, q in [0, 15] (the codec's final rounding,
// quantize_row_q4_K_ref's last loop; GPTQ into ggml types rounds with it too, ptq/gptq_ggml.h).
inline int level_q4_K(float x, float d, float dm) { return std::max(0, std::min(15, nearest_int((x + dm) / d))); }

}  // namespace qforge::fakequant::ggml
