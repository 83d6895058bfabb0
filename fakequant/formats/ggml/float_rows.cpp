#include "fakequant/formats/ggml/float_rows.h"

#include <algorithm>

#include "fakequant/formats/ggml/block_common.h"

namespace qforge::fakequant::ggml {

void quantize_row_f32_ref(const float* x, float* y, int64_t k, const float*) {
  std::copy(x, x + checked_block_count("quantize_row_f32", k, 1), y);
}
void dequantize_row_f32(const float* x, float* y, int64_t k) {
  std::copy(x, x + checked_block_count("dequantize_row_f32", k, 1), y);
}
void quantize_row_f16_ref(const float* x, block_f16* y, int64_t k, const float*) {
  const int64_t n = checked_block_count("quantize_row_f16", k, 1);
  for (int64_t i = 0; i < n; ++i) y[i].bits = encode_fp16(x[i]);
}
void dequantize_row_f16(const block_f16* x, float* y, int64_t k) {
  const int64_t n = checked_block_count("dequantize_row_f16", k, 1);
  for (int64_t i = 0; i < n; ++i) y[i] = decode_fp16(x[i].bits);
}
void quantize_row_bf16_ref(const float* x, block_bf16* y, int64_t k, const float*) {
  const int64_t n = checked_block_count("quantize_row_bf16", k, 1);
  for (int64_t i = 0; i < n; ++i) y[i].bits = encode_bf16(x[i]);
}
void dequantize_row_bf16(const block_bf16* x, float* y, int64_t k) {
  const int64_t n = checked_block_count("dequantize_row_bf16", k, 1);
  for (int64_t i = 0; i < n; ++i) y[i] = decode_bf16(x[i].bits);
}

}  // namespace qforge::fakequant::ggml
