#include "fakequant/packed/pack_weight.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "fakequant/formats/ggml/block_types.h"
#include "fakequant/packed/packed_4bit.h"
#include "fakequant/packed/packed_ggml.h"

namespace qforge::fakequant {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The ggml type table's case-insensitive lookup, restricted to the types with a codec that quantizes
// without an importance matrix (packing has none).
const ggml::BlockType* find_ggml_codec(const std::string& name) {
  const ggml::BlockType* type = ggml::find_type(name);
  return type != nullptr && type->has_codec() && !type->needs_importance ? type : nullptr;
}

std::string known_formats() {
  std::string list;
  for (const std::string& n : packed_weight_formats()) list += (list.empty() ? "" : ", ") + n;
  return list;
}

autograd::PackedWeightPtr pack_ggml(const ggml::BlockType& type, const float* w, int64_t rows, int64_t cols,
                                    const PackWeightOptions& options) {
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (!std::isfinite(w[i])) {
      throw std::invalid_argument("pack_weight: " + options.tensor_name + " element " + std::to_string(i) +
                                  " is not finite (" + type.name + ")");
    }
  }
  if (cols % type.block_elements != 0) {
    throw std::invalid_argument("pack_weight: " + options.tensor_name + " cols " + std::to_string(cols) +
                                " not a multiple of the " + type.name + " block size " +
                                std::to_string(type.block_elements));
  }
  const int64_t row_bytes = ggml::row_bytes(type, cols);
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes));
  for (int64_t r = 0; r < rows; ++r) {
    type.quantize_row(w + r * cols, bytes.data() + r * row_bytes, cols, options.importance);
  }
  return wrap_ggml_weight(type, std::move(bytes), rows, cols, options.tensor_name);
}

}  // namespace

std::vector<std::string> packed_weight_formats() {
  std::vector<std::string> names = {"nf4", "fp4", "bnb_fp4"};
  for (const ggml::BlockType& t : ggml::all_block_types()) {
    if (!t.needs_importance) names.emplace_back(t.name);
  }
  return names;
}

autograd::PackedWeightPtr pack_weight(const std::string& format, const float* w, int64_t rows, int64_t cols,
                                      const PackWeightOptions& options) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("pack_weight: " + options.tensor_name + ": negative shape");
  const std::string name = lower(format);
  if (name == "nf4" || name == "fp4" || name == "bnb_fp4") {
    const FourBitType type = name == "nf4" ? FourBitType::kNf4 : name == "fp4" ? FourBitType::kFp4 : FourBitType::kBnbFp4;
    return std::make_shared<Packed4BitWeight>(
        quantize_blockwise_4bit(w, rows * cols, type, options.four_bit, options.tensor_name), rows, cols);
  }
  if (const ggml::BlockType* type = find_ggml_codec(name)) return pack_ggml(*type, w, rows, cols, options);
  throw std::invalid_argument("pack_weight: unknown format '" + format + "' for " + options.tensor_name +
                              " (known: " + known_formats() + ")");
}

}  // namespace qforge::fakequant
