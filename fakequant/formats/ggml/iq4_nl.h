#pragma once
// GGML IQ4_NL (ggml type 20): blocks of 32, f16 d, u8 qs[16] (low nibble element j, high nibble j+16);
// x = d·K[q] with the non-linear table kvalues_iq4nl (ggml-common.h, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

constexpr int64_t kIQ4NLBlockElements = 32;
inline constexpr int8_t kValuesIQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

struct block_iq4_nl {
  uint16_t d;  // f16
  uint8_t qs[16];
};
static_assert(sizeof(block_iq4_nl) == 2 + 16, "wrong iq4_nl block size/padding");

// Index of the table value nearest to v (ties to the larger), ggml's best_index_int8.
int best_index_iq4nl(float v);

// llama.cpp quantize_iq4_nl (quantize_row_iq4_nl_impl with super-block = block = 32, ntry 7): weights
// x² (or imp·sqrt(σ² + x²), σ² = 2·mean(x²) of the block, with importance); start d = −max/K[0], then
// try iscales (itry + K[0])/max for itry = −7..7, keeping the best weighted least-squares d; the levels
// are re-derived from the f32 d, which is stored as f16.
void quantize_row_iq4_nl_ref(const float* x, block_iq4_nl* y, int64_t k, const float* importance = nullptr);
// The same bytes with the 16 candidate scales searched in parallel (AVX-512; else the reference).
void quantize_row_iq4_nl(const float* x, block_iq4_nl* y, int64_t k, const float* importance = nullptr);
void dequantize_row_iq4_nl(const block_iq4_nl* x, float* y, int64_t k);

// The scale search of one block of 32 with weights (quantize_row_iq4_nl_impl's inner loop, ntry 7, shared
// by IQ4_NL and IQ4_XS's sub-blocks): the weighted least-squares d of the best of the 16 candidates, 0
// for a block with max |x| < kGroupMaxEps. vectorized: the 16 candidates in the lanes of one AVX-512
// vector (builds without AVX-512 fall back to the scalar loop); the same d.
float search_iq4_block_scale(const float* x, const float* weight, bool vectorized = false);

// One block of quantize_row_iq4_nl_ref; returns the f32 d whose inverse the levels were rounded with
// (GPTQ into ggml types rounds later values with the same 1/d, ptq/gptq_ggml.h).
float quantize_block_iq4_nl(const float* x, const float* importance, block_iq4_nl* y);

}  // namespace qforge::fakequant::ggml
