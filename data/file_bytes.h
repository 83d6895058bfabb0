#pragma once
// Whole-file reads and writes shared by the IDX, text and token loaders. Gzip is handled by
// zlib: reads detect it from the gzip magic bytes (RFC 1952 section 2.3.1), so `x.gz` and an
// uncompressed `x` load the same way.
#include <cstdint>
#include <string>
#include <vector>

namespace qforge::data {

// All bytes of `path`, decompressed when the file is gzip. Throws std::runtime_error naming the
// file when it is missing, unreadable or a truncated/corrupt gzip stream.
std::vector<uint8_t> read_file_bytes(const std::string& path);
std::string read_text_file(const std::string& path);

// Writes `bytes` to `path` (gzip-compressed when `gzip`), replacing the file with io::write_file_atomically.
void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip = false);

}  // namespace qforge::data
