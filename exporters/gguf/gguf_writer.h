#pragma once
// GGUF v3 writer: header, metadata, tensor infos, padding, tensor data (docs/gguf.md §1).
// Tensor data arrive as raw bytes per tensor (already block-encoded); the writer checks each size
// against the type's block rule (ggml_types.h) and lays the data out in tensor-info order, each tensor
// padded to the alignment, which is what current gguf.cpp requires.
#include <cstddef>
#include <filesystem>
#include <ostream>
#include <span>
#include <vector>

#include "exporters/gguf/gguf_value.h"

namespace qforge::exporters::gguf {

inline constexpr uint32_t kGgufVersion = 3;

// Offsets (relative to the data section) of each tensor in the layout the writer produces.
// Throws std::invalid_argument for an unknown type or a shape the type cannot hold.
std::vector<uint64_t> layout_offsets(const GgufFile& file);

// Checks the model (keys, names, dims, types, alignment, one data span of the right size per tensor)
// and writes it to `out`. The TensorInfo offsets of `file` are ignored; layout_offsets() is written.
// Errors: std::invalid_argument naming the key/tensor, expected and actual.
void write_gguf(std::ostream& out, const GgufFile& file, std::span<const std::span<const std::byte>> tensor_data);

// Only the part before the tensor data (header, metadata, tensor infos with layout_offsets(), padding),
// for writers that stream the data themselves (gguf_requantize.cpp); returns its size = data start.
// Checks types/shapes as layout_offsets() does; the caller writes each tensor's bytes and pads.
uint64_t write_gguf_header(std::ostream& out, const GgufFile& file);

// The same into memory (tests, small files).
std::vector<std::byte> serialize_gguf(const GgufFile& file, std::span<const std::span<const std::byte>> tensor_data);

// Writes `path` with io::write_file_atomically. Errors (std::runtime_error for I/O,
// std::invalid_argument for the model) name the file.
void write_gguf_file(const std::filesystem::path& path, const GgufFile& file,
                     std::span<const std::span<const std::byte>> tensor_data);

}  // namespace qforge::exporters::gguf
