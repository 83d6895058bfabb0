#pragma once
// GGML Q8_0 (ggml type 8): blocks of 32, f16 d, int8 q[32]; x = d·q (ggml-common.h, docs/gguf.md §6).

#include <cstdint>

namespace qforge::fakequant::ggml {

constexpr int64_t kQ8_0BlockElements = 32;

struct block_q8_0 {
  uint16_t d;      // f16
  int8_t qs[32];
};
static_assert(sizeof(block_q8_0) == 2 + 32, "wrong q8_0 block size/padding");

// llama.cpp quantize_row_q8_0_ref: d = amax/127, q = round-half-away(x/d) with the f32 d, d stored f16.
// `importance` is accepted for a uniform signature and ignored, as llama.cpp's quantize_q8_0 does.
void quantize_row_q8_0_ref(const float* x, block_q8_0* y, int64_t k, const float* importance = nullptr);
// The same bytes, vectorized (AVX-512 when compiled for it, else the reference): the registry's encoder.
void quantize_row_q8_0(const float* x, block_q8_0* y, int64_t k, const float* importance = nullptr);
void dequantize_row_q8_0(const block_q8_0* x, float* y, int64_t k);

// One block's f32 scale d = amax/127 (stored as f16) and the 1/d its levels round with (0 when d is 0):
// quantize_row_q8_0_ref's parameters, shared with GPTQ into ggml types (ptq/gptq_ggml.h).
struct Q8_0Scale {
  float d, id;
};
Q8_0Scale q8_0_scale(const float* x);

}  // namespace qforge::fakequant::ggml
