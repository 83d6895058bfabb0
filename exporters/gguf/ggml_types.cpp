#include "exporters/gguf/ggml_types.h"

#include <cstdint>
#include <limits>

namespace qforge::exporters::gguf {

namespace {

// Block sizes follow the block_* structs of ggml-common.h, e.g. block_q8_0 = f16 d + i8 qs[32] = 34
// bytes, block_q4_K = 2 f16 + 12 scale bytes + 128 nibble bytes = 144, block_q6_K = 128 + 64 + 16 + 2
// = 210. docs/gguf.md §6 marks the ones verified by loading in llama.cpp.
constexpr GgmlTypeInfo kTypes[] = {
    {kGgmlF32, "F32", 1, 4},         {kGgmlF16, "F16", 1, 2},        {kGgmlQ4_0, "Q4_0", 32, 18},
    {kGgmlQ4_1, "Q4_1", 32, 20},     {kGgmlQ5_0, "Q5_0", 32, 22},    {kGgmlQ5_1, "Q5_1", 32, 24},
    {kGgmlQ8_0, "Q8_0", 32, 34},     {kGgmlQ2_K, "Q2_K", 256, 84},   {kGgmlQ3_K, "Q3_K", 256, 110},
    {kGgmlQ4_K, "Q4_K", 256, 144},   {kGgmlQ5_K, "Q5_K", 256, 176},  {kGgmlQ6_K, "Q6_K", 256, 210},
    {kGgmlIQ4_NL, "IQ4_NL", 32, 18}, {kGgmlI8, "I8", 1, 1},          {kGgmlI16, "I16", 1, 2},
    {kGgmlI32, "I32", 1, 4},         {kGgmlI64, "I64", 1, 8},        {kGgmlF64, "F64", 1, 8},
    {kGgmlBF16, "BF16", 1, 2},
};

}  // namespace

std::span<const GgmlTypeInfo> ggml_type_table() { return kTypes; }

std::optional<GgmlTypeInfo> find_ggml_type(uint32_t id) {
  for (const GgmlTypeInfo& info : kTypes) {
    if (info.id == id) return info;
  }
  return std::nullopt;
}

std::optional<uint64_t> ggml_tensor_bytes(uint32_t type, std::span<const uint64_t> dims) {
  const std::optional<GgmlTypeInfo> info = find_ggml_type(type);
  if (!info || dims.size() > kMaxDims) return std::nullopt;
  // No dims = a scalar (gguf.cpp sets every ne to 1): one element, so only 1-element-block types fit.
  static constexpr uint64_t kScalar[] = {1};
  if (dims.empty()) dims = kScalar;
  if (dims[0] % info->block_elements != 0) return std::nullopt;
  constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t blocks = dims[0] / info->block_elements;
  uint64_t elements = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] > kLimit || __builtin_mul_overflow(elements, dims[i], &elements) || elements > kLimit) {
      return std::nullopt;
    }
    if (i > 0 && __builtin_mul_overflow(blocks, dims[i], &blocks)) return std::nullopt;
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(blocks, uint64_t{info->block_bytes}, &bytes) || bytes > kLimit) return std::nullopt;
  return bytes;
}

}  // namespace qforge::exporters::gguf
