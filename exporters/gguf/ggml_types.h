#pragma once
// What the GGUF container needs of the ggml types: the byte-size rule for tensor data and ggml's limits.
// The types themselves (ids of ggml.h enum ggml_type, block geometry of ggml-common.h, codecs) live in
// one table, fakequant/formats/ggml/block_types.h; this header re-exports its ids as gguf::kGgml*.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "fakequant/formats/ggml/block_types.h"

namespace qforge::exporters::gguf {

using fakequant::ggml::GgmlType;
using enum fakequant::ggml::GgmlType;

// A row of the ggml type table as the container sees it; `name` is the upper-case spelling GGUF file
// types and `qforge inspect` print ("Q4_K").
struct GgmlTypeInfo {
  uint32_t id;
  std::string name;
  uint32_t block_elements;  // elements per block; ne[0] must be a multiple of it
  uint32_t block_bytes;     // bytes per block
};

// Every ggml type qforge can size, with or without a codec (fakequant::ggml::all_types()).
std::span<const fakequant::ggml::BlockType> ggml_type_table();
// nullopt for a type id qforge does not know (the reader rejects such tensors: their size is unknown).
std::optional<GgmlTypeInfo> find_ggml_type(uint32_t id);
// "F32, F16, Q4_0, ...": the upper-case names of every known type, for error messages.
std::string ggml_type_names();

// Bytes of a tensor of this type and shape (ggml order), or nullopt when the type is unknown, ne[0] is
// not a multiple of the block size, dims has more than 4 entries (none = a scalar), or the size overflows
// int64 (gguf.cpp rejects element counts above INT64_MAX). Row size = ne0 / block_elements * block_bytes.
std::optional<uint64_t> ggml_tensor_bytes(uint32_t type, std::span<const uint64_t> dims);

inline constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
inline constexpr uint32_t kMaxTensorName = 64;  // GGML_MAX_NAME: name length must be < 64

}  // namespace qforge::exporters::gguf
