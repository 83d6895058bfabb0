#pragma once
// safetensors (huggingface/safetensors): an 8-byte little-endian u64 header length N, N bytes of UTF-8
// JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__": {str: str}},
// then the byte buffer; offsets are relative to the buffer, which must be fully indexed (no holes,
// no overlaps). Data are little-endian, C order. The reference writer pads the header with spaces
// (0x20) so the buffer starts at a multiple of 8.
//
// Here: float tensors (F32, F16, BF16, F8_E4M3) decoded to FP32 on read and FP32 tensors written as F32,
// F16 or BF16; integer and byte tensors (I8, U8, I32, I64: packed quantized weights, docs/hf-quantized.md)
// read and written as their little-endian bytes (EncodedTensor), beside the float ones in the same file.
// Other dtypes of the format are rejected by name (docs/safetensors.md §1). The reader checks every
// length, offset and shape against the file size before allocating; errors (std::runtime_error) name the
// file, the tensor and the field.
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

enum class Dtype { kF32, kF16, kBF16, kF8E4M3, kI8, kU8, kI32, kI64 };
/// "F32", "F16", "BF16", "F8_E4M3", "I8", "U8", "I32", "I64" (the header's dtype strings).
const char* dtype_name(Dtype dtype);
/// Bytes one element of `dtype` takes (1, 2, 4 or 8).
size_t dtype_bytes(Dtype dtype);
/// True for the dtypes decoded to FP32 (F32, F16, BF16, F8_E4M3, each exactly); false for the integers.
bool is_float_dtype(Dtype dtype);

using Metadata = std::map<std::string, std::string>;

/// A tensor as the file stores it: any dtype, the shape and the little-endian bytes (numel · dtype_bytes).
/// The currency of packed quantized weights (exporters/hf/quant: GPTQ qweight I32, bitsandbytes U8, ...).
struct EncodedTensor {
  std::string name;
  Dtype dtype = Dtype::kU8;
  std::vector<int64_t> shape;
  std::vector<std::byte> data;
  /// Product of the shape (1 for a scalar).
  int64_t numel() const;
};
using EncodedTensors = std::map<std::string, EncodedTensor>;

struct SafetensorsContents {
  NamedTensors tensors;    // the float dtypes, decoded to FP32
  EncodedTensors encoded;  // the integer dtypes, as stored
  Metadata metadata;       // "__metadata__" (empty when absent)
};

/// The whole file in memory: the FP32 `tensors` converted to `dtype` (F32, F16 or BF16) and the
/// `encoded` ones as they are, all in name order, data contiguous in that order, header padded with
/// spaces to a multiple of 8. Throws std::invalid_argument for an empty name, "__metadata__" as a
/// tensor name, a name in both maps, an undefined tensor, an encoded tensor whose byte count is not
/// numel · dtype_bytes or whose name differs from its key, or a `dtype` that is not F32, F16 or BF16.
std::vector<std::byte> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata = {},
                                             Dtype dtype = Dtype::kF32, const EncodedTensors& encoded = {});
/// Writes `path` with io::write_file_atomically; errors name the file.
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const Metadata& metadata = {}, Dtype dtype = Dtype::kF32, const EncodedTensors& encoded = {});

/// Tensors by reference (a model's parameters, not copied), for large files.
using TensorRefs = std::map<std::string, const autograd::Tensor*>;
/// The same file as write_safetensors, streamed: the header, then each tensor converted in chunks, so
/// no copy of the file is held in memory (model weights of several GB).
void write_safetensors_streamed(const std::filesystem::path& path, const TensorRefs& tensors,
                                const Metadata& metadata = {}, Dtype dtype = Dtype::kF32,
                                const EncodedTensors& encoded = {});

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
/// hold entry.numel() floats, and whose dtype must be a float one (std::invalid_argument otherwise).
void decode_tensor(const TensorEntry& entry, std::span<const std::byte> bytes, std::span<float> out);
/// The bytes of `entry` (any dtype) as stored, bounds-checked as decode_tensor is.
EncodedTensor encoded_tensor(const TensorEntry& entry, std::span<const std::byte> bytes);

/// Parses a whole file held in `bytes`; `source` names it in errors.
SafetensorsContents parse_safetensors(std::span<const std::byte> bytes, const std::string& source);
/// Reads and parses `path`.
SafetensorsContents read_safetensors(const std::filesystem::path& path);

}  // namespace qforge::exporters::safetensors
