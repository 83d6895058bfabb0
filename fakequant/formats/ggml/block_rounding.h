#pragma once
// A ggml codec split in its two halves, for algorithms that choose each weight's level themselves (GPTQ
// into ggml types, ptq/gptq_ggml.h; docs/gguf.md §12): `choose` runs the codec's own parameter search
// (llama.cpp's, importance-weighted when given an importance) on one block and stores its parameters;
// `round` then puts one value on that block's fixed grid the way the codec's final rounding does
// (quantize_row_<type>_ref's last loop) and returns it decoded exactly as dequantize_row_<type> would.
// Rounding every element of a block with the values `choose` saw reproduces the codec's bytes.
#include <cstdint>
#include <cstddef>
#include <vector>

namespace qforge::fakequant::ggml {

struct BlockRounding {
  int ggml_type_id;
  int64_t block_elements;  // the block `choose` searches: 256 for the k-quants (one super-block), 32 otherwise
  int64_t block_bytes;
  // Encodes x (block_elements values, importance: as many or nullptr) into `block`: the codec's bytes.
  // `state` (kStateFloats) keeps what the rounding needs beyond the stored bytes (the f32 1/d of Q8_0
  // and IQ4_NL).
  void (*choose)(const float* x, const float* importance, void* block, float* state);
  // Level of element i for value v on the block's grid, written into `block`; returns the decoded value.
  // Where the stored scale of i's sub-block is 0 the search's level is kept (as the codecs do): every
  // level decodes to the same value there.
  float (*round)(void* block, const float* state, int64_t i, float v);
};
constexpr int kStateFloats = 1;

// Q4_K, Q6_K, Q8_0, IQ4_NL; nullptr for any other type.
const BlockRounding* block_rounding(int ggml_type_id);

// Rows of ggml tensor data with their type: what a method that encodes weights itself hands to the GGUF
// exporter (exporters/model_export.h LlamaExport::encoded). Rows in the parameter's own order.
struct EncodedRows {
  uint32_t ggml_type = 0;
  int64_t rows = 0, cols = 0;
  std::vector<std::byte> bytes;  // rows * row_bytes(type, cols)
};

}  // namespace qforge::fakequant::ggml
