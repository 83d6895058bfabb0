#pragma once
// GGML F32 (type 0), F16 (type 1) and BF16 (type 30) rows: one element per "block" (docs/gguf.md §6).
// F16 rounds to nearest even (ggml's GGML_FP32_TO_FP16 with F16C or the generic path); BF16 is the top
// 16 bits of the f32 after round to nearest even, NaN kept quiet (ggml_compute_fp32_to_bf16).

#include <cstdint>

namespace qforge::fakequant::ggml {

struct block_f16 { uint16_t bits; };
struct block_bf16 { uint16_t bits; };
static_assert(sizeof(block_f16) == 2, "wrong f16 size");
static_assert(sizeof(block_bf16) == 2, "wrong bf16 size");

// `importance` is ignored (no scale to choose); kept for the uniform codec signature.
void quantize_row_f32_ref(const float* x, float* y, int64_t k, const float* importance = nullptr);
void dequantize_row_f32(const float* x, float* y, int64_t k);
void quantize_row_f16_ref(const float* x, block_f16* y, int64_t k, const float* importance = nullptr);
void dequantize_row_f16(const block_f16* x, float* y, int64_t k);
void quantize_row_bf16_ref(const float* x, block_bf16* y, int64_t k, const float* importance = nullptr);
void dequantize_row_bf16(const block_bf16* x, float* y, int64_t k);

}  // namespace qforge::fakequant::ggml
