#pragma once
// The table of ggml tensor types qforge knows, like the type_traits table of ggml.c: one row per type
// with ggml's id (ggml.h enum ggml_type, docs/gguf.md §6), its ggml_type_name spelling, the block geometry of
// its ggml-common.h block struct and, where qforge has one, the row codec. GGUF export and import, the
// GGUF container (exporters/gguf/ggml_types.h, which sizes tensors from it) and format-exact fake
// quantization all read this one table. Adding a codec = its block struct + codec file + one row.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::fakequant::ggml {

// ggml.h enum ggml_type (only the ids the table has a row for; the gaps are types removed upstream or
// not supported here).
enum GgmlType : uint32_t {
  kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ4_1 = 3, kGgmlQ5_0 = 6, kGgmlQ5_1 = 7,
  kGgmlQ8_0 = 8, kGgmlQ2_K = 10, kGgmlQ3_K = 11, kGgmlQ4_K = 12, kGgmlQ5_K = 13, kGgmlQ6_K = 14,
  kGgmlIQ2_XXS = 16, kGgmlIQ2_XS = 17, kGgmlIQ3_XXS = 18, kGgmlIQ1_S = 19, kGgmlIQ4_NL = 20, kGgmlIQ3_S = 21,
  kGgmlIQ2_S = 22, kGgmlIQ4_XS = 23, kGgmlI8 = 24, kGgmlI16 = 25, kGgmlI32 = 26, kGgmlI64 = 27, kGgmlF64 = 28,
  kGgmlIQ1_M = 29, kGgmlBF16 = 30, kGgmlTQ1_0 = 34, kGgmlTQ2_0 = 35,
};

struct BlockType {
  const char* name;          // ggml_type_name spelling: "f32", "f16", "bf16", "q8_0", "q5_0", "q4_K", ...
  int ggml_type_id;
  int64_t block_elements;    // elements per block; a row's ne0 must be a multiple of it
  int64_t block_bytes;       // bytes per block
  // k floats -> k / block_elements blocks at `blocks`; importance: k floats or nullptr. Both are
  // nullptr for container-only types (qforge can size and copy their tensors, not encode or decode them);
  // a row with only dequantize_row would be decode-only (none at present: every quantized type llama.cpp
  // writes has a codec; readers still ask for a decoder, decoder_type()).
  void (*quantize_row)(const float* x, void* blocks, int64_t k, const float* importance);
  void (*dequantize_row)(const void* blocks, float* y, int64_t k);
  // quantize_row throws without an importance matrix, as llama.cpp refuses these types without one
  // (ggml_quantize_requires_imatrix: IQ2_XXS, IQ2_XS, IQ1_S).
  bool needs_importance = false;

  bool has_codec() const { return quantize_row != nullptr; }
  bool has_decoder() const { return dequantize_row != nullptr; }
  // A block of several elements with shared scales (ggml's is_quantized), as opposed to a plain
  // float or integer element type.
  bool is_quantized() const { return block_elements > 1; }
};

// Every row, with or without a codec, in id order.
std::span<const BlockType> all_types();
// The row of an id or of a name (case-insensitive: "Q4_K", "q4_k"), with or without a codec; nullptr
// when the table has none.
const BlockType* find_type(int ggml_type_id);
const BlockType* find_type(std::string_view name);
// Upper-case spelling used by GGUF file types and `qforge inspect`: "Q4_K", "IQ4_NL", "F32".
std::string display_name(const BlockType& type);

// The rows with a codec. block_type() finds one by name (case-insensitive) or id and throws
// std::invalid_argument for unknown types and for types without a codec, listing those with one.
const std::vector<BlockType>& all_block_types();
const BlockType& block_type(const std::string& name);
const BlockType& block_type(int ggml_type_id);
// "f32, f16, q5_0, ...": the names of the rows with a codec (ggml_type_name spelling).
std::string codec_type_names();

// The row of an id that qforge can decode (with or without an encoder); throws std::invalid_argument
// naming the type and listing the decodable ones otherwise. GGUF readers decode through it.
const BlockType& decoder_type(int ggml_type_id);
// The names of the rows with a decoder (ggml_type_name spelling).
std::string decoder_type_names();

// Bytes of one row of k elements (k a multiple of the block size).
int64_t row_bytes(const BlockType& type, int64_t k);

// Format-exact fake quantization: dequantize(quantize(x)) for a row of k values.
void fake_quantize_row(const BlockType& type, const float* x, float* y, int64_t k,
                       const float* importance = nullptr);

}  // namespace qforge::fakequant::ggml
