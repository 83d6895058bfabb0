#pragma once
// ggml tensor type ids and their block geometry: the byte-size rule for tensor data.
// Ids from ggml/include/ggml.h (enum ggml_type); block sizes from ggml-common.h (block structs).
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace qforge::exporters::gguf {

enum GgmlType : uint32_t {
  kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ4_1 = 3, kGgmlQ5_0 = 6, kGgmlQ5_1 = 7,
  kGgmlQ8_0 = 8, kGgmlQ2_K = 10, kGgmlQ3_K = 11, kGgmlQ4_K = 12, kGgmlQ5_K = 13, kGgmlQ6_K = 14,
  kGgmlIQ4_NL = 20, kGgmlI8 = 24, kGgmlI16 = 25, kGgmlI32 = 26, kGgmlI64 = 27, kGgmlF64 = 28,
  kGgmlBF16 = 30,
};

struct GgmlTypeInfo {
  uint32_t id;
  std::string_view name;
  uint32_t block_elements;  // elements per block; ne[0] must be a multiple of it
  uint32_t block_bytes;     // bytes per block
};

std::span<const GgmlTypeInfo> ggml_type_table();
// nullopt for a type id qforge does not know (the reader rejects such tensors: their size is unknown).
std::optional<GgmlTypeInfo> find_ggml_type(uint32_t id);

// Bytes of a tensor of this type and shape (ggml order), or nullopt when the type is unknown, ne[0] is
// not a multiple of the block size, dims has more than 4 entries (none = a scalar), or the size overflows
// int64 (gguf.cpp rejects element counts above INT64_MAX). Row size = ne0 / block_elements * block_bytes.
std::optional<uint64_t> ggml_tensor_bytes(uint32_t type, std::span<const uint64_t> dims);

inline constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
inline constexpr uint32_t kMaxTensorName = 64;  // GGML_MAX_NAME: name length must be < 64

}  // namespace qforge::exporters::gguf
