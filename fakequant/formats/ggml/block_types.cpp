#include "fakequant/formats/ggml/block_types.h"

#include <cctype>
#include <iterator>
#include <stdexcept>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/float_rows.h"
#include "fakequant/formats/ggml/iq1_m.h"
#include "fakequant/formats/ggml/iq1_s.h"
#include "fakequant/formats/ggml/iq2_s.h"
#include "fakequant/formats/ggml/iq2_xs.h"
#include "fakequant/formats/ggml/iq2_xxs.h"
#include "fakequant/formats/ggml/iq3_s.h"
#include "fakequant/formats/ggml/iq3_xxs.h"
#include "fakequant/formats/ggml/iq4_nl.h"
#include "fakequant/formats/ggml/iq4_xs.h"
#include "fakequant/formats/ggml/q2_k.h"
#include "fakequant/formats/ggml/q3_k.h"
#include "fakequant/formats/ggml/q4_0.h"
#include "fakequant/formats/ggml/q4_1.h"
#include "fakequant/formats/ggml/q4_k.h"
#include "fakequant/formats/ggml/q5_0.h"
#include "fakequant/formats/ggml/q5_1.h"
#include "fakequant/formats/ggml/q5_k.h"
#include "fakequant/formats/ggml/q6_k.h"
#include "fakequant/formats/ggml/q8_0.h"
#include "fakequant/formats/ggml/tq1_0.h"
#include "fakequant/formats/ggml/tq2_0.h"

namespace qforge::fakequant::ggml {
namespace {

// Type-erased adapters from the typed codecs (Block = the on-disk block struct, whose size the codec
// headers static_assert against ggml-common.h).
template <typename Block, void (*Quantize)(const float*, Block*, int64_t, const float*),
          void (*Dequantize)(const Block*, float*, int64_t)>
constexpr BlockType make_type(const char* name, GgmlType id, int64_t elements, bool needs_importance = false) {
  return BlockType{name, static_cast<int>(id), elements, static_cast<int64_t>(sizeof(Block)),
                   [](const float* x, void* b, int64_t k, const float* imp) { Quantize(x, static_cast<Block*>(b), k, imp); },
                   [](const void* b, float* y, int64_t k) { Dequantize(static_cast<const Block*>(b), y, k); },
                   needs_importance};
}

// A type qforge has no codec for: only its geometry, for sizing GGUF tensor data.
constexpr BlockType container_type(const char* name, GgmlType id, int64_t elements, int64_t bytes) {
  return BlockType{name, static_cast<int>(id), elements, bytes, nullptr, nullptr, false};
}

// The codec rows take sizeof of qforge's copies of ggml-common.h's block structs (each header
// static_asserts the field sum); container-only rows are the plain element types.
constexpr BlockType kTypes[] = {
    make_type<float, quantize_row_f32_ref, dequantize_row_f32>("f32", kGgmlF32, 1),
    make_type<block_f16, quantize_row_f16_ref, dequantize_row_f16>("f16", kGgmlF16, 1),
    make_type<block_q4_0, quantize_row_q4_0_ref, dequantize_row_q4_0>("q4_0", kGgmlQ4_0, 32),
    make_type<block_q4_1, quantize_row_q4_1_ref, dequantize_row_q4_1>("q4_1", kGgmlQ4_1, 32),
    make_type<block_q5_0, quantize_row_q5_0_ref, dequantize_row_q5_0>("q5_0", kGgmlQ5_0, 32),
    make_type<block_q5_1, quantize_row_q5_1_ref, dequantize_row_q5_1>("q5_1", kGgmlQ5_1, 32),
    make_type<block_q8_0, quantize_row_q8_0, dequantize_row_q8_0>("q8_0", kGgmlQ8_0, 32),
    make_type<block_q2_K, quantize_row_q2_K, dequantize_row_q2_K>("q2_K", kGgmlQ2_K, 256),
    make_type<block_q3_K, quantize_row_q3_K_ref, dequantize_row_q3_K>("q3_K", kGgmlQ3_K, 256),
    make_type<block_q4_K, quantize_row_q4_K, dequantize_row_q4_K>("q4_K", kGgmlQ4_K, 256),
    make_type<block_q5_K, quantize_row_q5_K, dequantize_row_q5_K>("q5_K", kGgmlQ5_K, 256),
    make_type<block_q6_K, quantize_row_q6_K, dequantize_row_q6_K>("q6_K", kGgmlQ6_K, 256),
    make_type<block_iq2_xxs, quantize_row_iq2_xxs, dequantize_row_iq2_xxs>("iq2_xxs", kGgmlIQ2_XXS, 256, true),
    make_type<block_iq2_xs, quantize_row_iq2_xs, dequantize_row_iq2_xs>("iq2_xs", kGgmlIQ2_XS, 256, true),
    make_type<block_iq3_xxs, quantize_row_iq3_xxs, dequantize_row_iq3_xxs>("iq3_xxs", kGgmlIQ3_XXS, 256),
    make_type<block_iq1_s, quantize_row_iq1_s, dequantize_row_iq1_s>("iq1_s", kGgmlIQ1_S, 256, true),
    make_type<block_iq4_nl, quantize_row_iq4_nl, dequantize_row_iq4_nl>("iq4_nl", kGgmlIQ4_NL, 32),
    make_type<block_iq3_s, quantize_row_iq3_s, dequantize_row_iq3_s>("iq3_s", kGgmlIQ3_S, 256),
    make_type<block_iq2_s, quantize_row_iq2_s, dequantize_row_iq2_s>("iq2_s", kGgmlIQ2_S, 256),
    make_type<block_iq4_xs, quantize_row_iq4_xs, dequantize_row_iq4_xs>("iq4_xs", kGgmlIQ4_XS, 256),
    container_type("i8", kGgmlI8, 1, 1),
    container_type("i16", kGgmlI16, 1, 2),
    container_type("i32", kGgmlI32, 1, 4),
    container_type("i64", kGgmlI64, 1, 8),
    container_type("f64", kGgmlF64, 1, 8),
    make_type<block_iq1_m, quantize_row_iq1_m, dequantize_row_iq1_m>("iq1_m", kGgmlIQ1_M, 256),
    make_type<block_bf16, quantize_row_bf16_ref, dequantize_row_bf16>("bf16", kGgmlBF16, 1),
    make_type<block_tq1_0, quantize_row_tq1_0, dequantize_row_tq1_0>("tq1_0", kGgmlTQ1_0, 256),
    make_type<block_tq2_0, quantize_row_tq2_0, dequantize_row_tq2_0>("tq2_0", kGgmlTQ2_0, 256),
};

constexpr bool ids_ascending() {
  for (size_t i = 1; i < std::size(kTypes); ++i) {
    if (kTypes[i - 1].ggml_type_id >= kTypes[i].ggml_type_id) return false;
  }
  return true;
}
static_assert(ids_ascending(), "one row per ggml type, in ggml.h id order");

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

template <typename Keep>
std::string joined_names(Keep keep) {
  std::string names;
  for (const BlockType& t : kTypes) {
    if (keep(t)) names += std::string(names.empty() ? "" : ", ") + t.name;
  }
  return names;
}

}  // namespace

std::span<const BlockType> all_types() { return kTypes; }

const BlockType* find_type(int ggml_type_id) {
  for (const BlockType& t : kTypes) {
    if (t.ggml_type_id == ggml_type_id) return &t;
  }
  return nullptr;
}

const BlockType* find_type(std::string_view name) {
  const std::string wanted = lower(name);
  for (const BlockType& t : kTypes) {
    if (lower(t.name) == wanted) return &t;
  }
  return nullptr;
}

std::string display_name(const BlockType& type) {
  std::string name(type.name);
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

const std::vector<BlockType>& all_block_types() {
  static const std::vector<BlockType> types = [] {
    std::vector<BlockType> with_codec;
    for (const BlockType& t : kTypes) {
      if (t.has_codec()) with_codec.push_back(t);
    }
    return with_codec;
  }();
  return types;
}

std::string codec_type_names() {
  return joined_names([](const BlockType& t) { return t.has_codec(); });
}

std::string decoder_type_names() {
  return joined_names([](const BlockType& t) { return t.has_decoder(); });
}

const BlockType& decoder_type(int ggml_type_id) {
  const BlockType* t = find_type(ggml_type_id);
  if (t != nullptr && t->has_decoder()) return *t;
  throw std::invalid_argument("ggml::decoder_type: " +
                              (t ? "no decoder for ggml type " + std::string(t->name) + " (id " + std::to_string(ggml_type_id) + ")"
                                 : "unsupported ggml type id " + std::to_string(ggml_type_id)) +
                              " (qforge decodes " + decoder_type_names() + ")");
}

const BlockType& block_type(const std::string& name) {
  const std::string wanted = lower(name);
  for (const BlockType& t : all_block_types()) {
    if (lower(t.name) == wanted) return t;
  }
  const bool known = find_type(name) != nullptr;
  throw std::invalid_argument("ggml::block_type: " + std::string(known ? "no codec for type '" : "unknown type name '") +
                              name + "' (expected one of: " + codec_type_names() + ")");
}

const BlockType& block_type(int ggml_type_id) {
  for (const BlockType& t : all_block_types()) {
    if (t.ggml_type_id == ggml_type_id) return t;
  }
  const BlockType* known = find_type(ggml_type_id);
  std::string ids;
  for (const BlockType& t : all_block_types()) ids += (ids.empty() ? "" : ", ") + std::to_string(t.ggml_type_id);
  throw std::invalid_argument("ggml::block_type: " +
                              (known ? "no codec for ggml type " + std::string(known->name) + " (id " +
                                           std::to_string(ggml_type_id) + ")"
                                     : "unsupported ggml type id " + std::to_string(ggml_type_id)) +
                              " (expected one of: " + ids + ", i.e. " + codec_type_names() + ")");
}

int64_t row_bytes(const BlockType& type, int64_t k) {
  return checked_block_count(type.name, k, type.block_elements) * type.block_bytes;
}

void fake_quantize_row(const BlockType& type, const float* x, float* y, int64_t k, const float* importance) {
  if (!type.has_codec()) {
    throw std::invalid_argument(std::string("ggml::fake_quantize_row: no codec for ") + type.name +
                                " (codecs: " + codec_type_names() + ")");
  }
  std::vector<unsigned char> blocks(static_cast<size_t>(row_bytes(type, k)));
  type.quantize_row(x, blocks.data(), k, importance);
  type.dequantize_row(blocks.data(), y, k);
}

}  // namespace qforge::fakequant::ggml
