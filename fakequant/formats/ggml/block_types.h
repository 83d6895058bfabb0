#pragma once
// Registry of the ggml tensor types qforge reads and writes, so GGUF export, import and format-exact
// fake quantization all go through the same codecs. Ids are ggml's enum ggml_type (docs/gguf.md §6).

#include <cstdint>
#include <string>
#include <vector>

namespace qforge::fakequant::ggml {

struct BlockType {
  const char* name;          // ggml_type_name spelling: "f32", "f16", "bf16", "q8_0", "q5_0", "q4_K", ...
  int ggml_type_id;
  int64_t block_elements;
  int64_t block_bytes;
  // k floats -> k / block_elements blocks at `blocks`; importance: k floats or nullptr.
  void (*quantize_row)(const float* x, void* blocks, int64_t k, const float* importance);
  void (*dequantize_row)(const void* blocks, float* y, int64_t k);
};

// Case-insensitive name ("Q4_K", "q4_k", "iq4_nl"); throws std::invalid_argument for unknown names/ids.
const BlockType& block_type(const std::string& name);
const BlockType& block_type(int ggml_type_id);
const std::vector<BlockType>& all_block_types();

// Bytes of one row of k elements (k a multiple of the block size).
int64_t row_bytes(const BlockType& type, int64_t k);

// Format-exact fake quantization: dequantize(quantize(x)) for a row of k values.
void fake_quantize_row(const BlockType& type, const float* x, float* y, int64_t k,
                       const float* importance = nullptr);

}  // namespace qforge::fakequant::ggml
