#pragma once
// safetensors (huggingface/safetensors): an 8-byte little-endian u64 header length N, N bytes of UTF-8
// JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__": {str: str}},
// then the byte buffer; offsets are relative to the buffer, which must be fully indexed (no holes,
// no overlaps). Data are little-endian, C order. The reference writer pads the header with spaces
// (0x20) so the buffer starts at a multiple of 8.
//
// Here: F32 / F16 / BF16 tensors, decoded to FP32 on read (other dtypes are rejected by name), written
// as F32 (or F16 / BF16). The reader checks every length, offset and shape against the file size before
// allocating; errors (std::runtime_error) name the file, the tensor and the field.
#include <cstddef>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace qforge::exporters {

/// Plain named FP32 tensors (sorted by name), the currency of the adapter files.
using NamedTensors = std::map<std::string, autograd::Tensor>;

}  // namespace qforge::exporters

namespace qforge::exporters::safetensors {

enum class Dtype { kF32, kF16, kBF16 };
/// "F32", "F16", "BF16" (the header's dtype strings).
const char* dtype_name(Dtype dtype);

using Metadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  NamedTensors tensors;
  Metadata metadata;  // "__metadata__" (empty when absent)
};

/// The whole file in memory: tensors in name order, data contiguous in that order, header padded with
/// spaces to a multiple of 8. Throws std::invalid_argument for an empty name, "__metadata__" as a
/// tensor name or an undefined tensor.
std::vector<std::byte> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata = {},
                                             Dtype dtype = Dtype::kF32);
/// Writes `path` with io::write_file_atomically; errors name the file.
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const Metadata& metadata = {}, Dtype dtype = Dtype::kF32);

/// Tensors by reference (a model's parameters, not copied), for large files.
using TensorRefs = std::map<std::string, const autograd::Tensor*>;
/// The same file as write_safetensors, streamed: the header, then each tensor converted in chunks, so
/// no copy of the file is held in memory (model weights of several GB).
void write_safetensors_streamed(const std::filesystem::path& path, const TensorRefs& tensors,
                                const Metadata& metadata = {}, Dtype dtype = Dtype::kF32);
/// Bytes one element of `dtype` takes (4 or 2).
size_t dtype_bytes(Dtype dtype);

/// One tensor of a header, checked against the file: its bytes are [begin, end) of the whole file
/// (the header's data_offsets plus 8 plus the header length).
struct TensorEntry {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
  /// Product of the shape (1 for a scalar).
  int64_t numel() const;
};

struct SafetensorsHeader {
  std::vector<TensorEntry> tensors;  // in data order (by begin)
  Metadata metadata;                 // "__metadata__" (empty when absent)
};

/// Parses and checks the header of a whole file held in `bytes` (typically a memory map) without
/// decoding any tensor: every length, offset, dtype and shape is checked against the file's size and
/// the data section must be fully indexed. `source` names the file in errors.
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> bytes, const std::string& source);
/// Decodes `entry` (from parse_safetensors_header of the same `bytes`) to FP32 into `out`, which must
/// hold entry.numel() floats (std::invalid_argument otherwise).
void decode_tensor(const TensorEntry& entry, std::span<const std::byte> bytes, std::span<float> out);

/// Parses a whole file held in `bytes`; `source` names it in errors.
SafetensorsContents parse_safetensors(std::span<const std::byte> bytes, const std::string& source);
/// Reads and parses `path`.
SafetensorsContents read_safetensors(const std::filesystem::path& path);

}  // namespace qforge::exporters::safetensors
