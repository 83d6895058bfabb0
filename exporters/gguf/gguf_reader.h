#pragma once
// GGUF v3 reader. Every count, length and offset is checked against the bytes that remain before
// anything is allocated, so a truncated or corrupted file raises std::runtime_error (naming the file,
// the field and the byte offset) instead of crashing or allocating gigabytes.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_value.h"

namespace qforge::exporters::gguf {

// Parses the GGUF structure in `bytes` (the whole file). `source` names the file in error messages.
// The returned model's tensor offsets are relative to `data_start`.
struct ParsedGguf {
  GgufFile file;
  uint64_t data_start = 0;
  std::vector<uint64_t> key_offsets;  // byte of each metadata pair's key, index for index with file.metadata
};
ParsedGguf parse_gguf(std::span<const std::byte> bytes, const std::string& source);

class GgufReader {
 public:
  // Maps the file read-only (mmap) and parses it.
  explicit GgufReader(const std::filesystem::path& path);
  // Parses an in-memory copy (fuzz tests, data already in memory).
  GgufReader(std::vector<std::byte> bytes, std::string source);
  ~GgufReader();
  GgufReader(GgufReader&&) noexcept;
  GgufReader& operator=(GgufReader&&) noexcept;

  const GgufFile& file() const { return parsed_.file; }
  uint64_t data_start() const { return parsed_.data_start; }
  const std::string& source() const { return source_; }
  // Where key `key`'s pair starts in the file (its key string), for errors in the shape of io/read_error.h;
  // nullopt when the file has no such key.
  std::optional<uint64_t> key_offset(std::string_view key) const;
  // The file byte where tensor `name`'s data start; nullopt when there is no such tensor.
  std::optional<uint64_t> tensor_offset(std::string_view name) const;
  // The raw (block-encoded) bytes of tensor `index` / `name`; valid while the reader lives.
  std::span<const std::byte> tensor_data(size_t index) const;
  std::span<const std::byte> tensor_data(std::string_view name) const;
  // One span per tensor in file order: ready for write_gguf().
  std::vector<std::span<const std::byte>> all_tensor_data() const;

 private:
  struct Storage;
  std::unique_ptr<Storage> storage_;
  std::span<const std::byte> bytes_;
  ParsedGguf parsed_;
  std::string source_;
};

}  // namespace qforge::exporters::gguf
