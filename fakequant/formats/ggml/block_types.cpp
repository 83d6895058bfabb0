#include "fakequant/formats/ggml/block_types.h"

#include <cctype>
#include <stdexcept>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/float_rows.h"
#include "fakequant/formats/ggml/iq4_nl.h"
#include "fakequant/formats/ggml/q4_k.h"
#include "fakequant/formats/ggml/q5_0.h"
#include "fakequant/formats/ggml/q6_k.h"
#include "fakequant/formats/ggml/q8_0.h"

namespace qforge::fakequant::ggml {
namespace {

// Type-erased adapters from the typed codecs (Block = the on-disk block struct).
template <typename Block, void (*Quantize)(const float*, Block*, int64_t, const float*),
          void (*Dequantize)(const Block*, float*, int64_t)>
BlockType make_type(const char* name, int id, int64_t elements) {
  return BlockType{name, id, elements, static_cast<int64_t>(sizeof(Block)),
                   [](const float* x, void* b, int64_t k, const float* imp) { Quantize(x, static_cast<Block*>(b), k, imp); },
                   [](const void* b, float* y, int64_t k) { Dequantize(static_cast<const Block*>(b), y, k); }};
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const std::vector<BlockType>& all_block_types() {
  static const std::vector<BlockType> types = {
      make_type<float, quantize_row_f32_ref, dequantize_row_f32>("f32", 0, 1),
      make_type<block_f16, quantize_row_f16_ref, dequantize_row_f16>("f16", 1, 1),
      make_type<block_q5_0, quantize_row_q5_0_ref, dequantize_row_q5_0>("q5_0", 6, 32),
      make_type<block_q8_0, quantize_row_q8_0, dequantize_row_q8_0>("q8_0", 8, 32),
      make_type<block_q4_K, quantize_row_q4_K, dequantize_row_q4_K>("q4_K", 12, 256),
      make_type<block_q6_K, quantize_row_q6_K, dequantize_row_q6_K>("q6_K", 14, 256),
      make_type<block_iq4_nl, quantize_row_iq4_nl, dequantize_row_iq4_nl>("iq4_nl", 20, 32),
      make_type<block_bf16, quantize_row_bf16_ref, dequantize_row_bf16>("bf16", 30, 1),
  };
  return types;
}

const BlockType& block_type(const std::string& name) {
  const std::string wanted = lower(name);
  for (const BlockType& t : all_block_types()) {
    if (lower(t.name) == wanted) return t;
  }
  throw std::invalid_argument("ggml::block_type: unknown type name '" + name +
                              "' (expected f32, f16, bf16, q8_0, q5_0, q4_K, q6_K or iq4_nl)");
}

const BlockType& block_type(int ggml_type_id) {
  for (const BlockType& t : all_block_types()) {
    if (t.ggml_type_id == ggml_type_id) return t;
  }
  throw std::invalid_argument("ggml::block_type: unsupported ggml type id " + std::to_string(ggml_type_id) +
                              " (expected 0, 1, 6, 8, 12, 14, 20 or 30)");
}

int64_t row_bytes(const BlockType& type, int64_t k) {
  return checked_block_count(type.name, k, type.block_elements) * type.block_bytes;
}

void fake_quantize_row(const BlockType& type, const float* x, float* y, int64_t k, const float* importance) {
  std::vector<unsigned char> blocks(static_cast<size_t>(row_bytes(type, k)));
  type.quantize_row(x, blocks.data(), k, importance);
  type.dequantize_row(blocks.data(), y, k);
}

}  // namespace qforge::fakequant::ggml
