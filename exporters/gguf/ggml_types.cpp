#include "exporters/gguf/ggml_types.h"

#include <cstdint>
#include <limits>

namespace qforge::exporters::gguf {

namespace fq = fakequant::ggml;

namespace {

// Ids beyond int cannot be in the table (ggml's enum is small); a file may hold any uint32.
const fq::BlockType* lookup(uint32_t id) {
  return id <= static_cast<uint32_t>(std::numeric_limits<int>::max()) ? fq::find_type(static_cast<int>(id)) : nullptr;
}

}  // namespace

std::span<const fq::BlockType> ggml_type_table() { return fq::all_types(); }

std::optional<GgmlTypeInfo> find_ggml_type(uint32_t id) {
  const fq::BlockType* type = lookup(id);
  if (type == nullptr) return std::nullopt;
  return GgmlTypeInfo{id, fq::display_name(*type), static_cast<uint32_t>(type->block_elements),
                      static_cast<uint32_t>(type->block_bytes)};
}

std::string ggml_type_names() {
  std::string names;
  for (const fq::BlockType& type : fq::all_types()) names += (names.empty() ? "" : ", ") + fq::display_name(type);
  return names;
}

std::optional<uint64_t> ggml_tensor_bytes(uint32_t type, std::span<const uint64_t> dims) {
  const fq::BlockType* info = lookup(type);
  if (info == nullptr || dims.size() > kMaxDims) return std::nullopt;
  // No dims = a scalar (gguf.cpp sets every ne to 1): one element, so only 1-element-block types fit.
  static constexpr uint64_t kScalar[] = {1};
  if (dims.empty()) dims = kScalar;
  const auto block_elements = static_cast<uint64_t>(info->block_elements);
  if (dims[0] % block_elements != 0) return std::nullopt;
  constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t blocks = dims[0] / block_elements;
  uint64_t elements = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] > kLimit || __builtin_mul_overflow(elements, dims[i], &elements) || elements > kLimit) {
      return std::nullopt;
    }
    if (i > 0 && __builtin_mul_overflow(blocks, dims[i], &blocks)) return std::nullopt;
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(blocks, static_cast<uint64_t>(info->block_bytes), &bytes) || bytes > kLimit) return std::nullopt;
  return bytes;
}

}  // namespace qforge::exporters::gguf
