#include "data/idx_file.h"

#include <cstdio>
#include <stdexcept>

#include "data/file_bytes.h"
#include "io/read_error.h"

namespace qforge::data {
namespace {

uint32_t read_big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void append_big_endian_u32(std::vector<uint8_t>& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

std::string hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

}  // namespace

// Errors: "idx: FILE: FIELD at byte N: what" (io/read_error.h); in a gzip file N counts the decompressed bytes.
IdxArray read_idx(const std::string& path, uint32_t expected_magic) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const auto fail = [&](const std::string& field, uint64_t at, const std::string& what) {
    io::throw_read_error("idx", path, field, at, what);
  };
  if (bytes.size() < 4)
    fail("magic", 0, "truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the 4-byte magic");
  const uint32_t magic = read_big_endian_u32(bytes.data());
  if (magic != expected_magic) fail("magic", 0, "bad magic " + hex(magic) + ", expected " + hex(expected_magic));
  const size_t ndim = magic & 0xff;
  const size_t header_bytes = 4 + 4 * ndim;
  if (bytes.size() < header_bytes) {
    fail("dims", 4, "truncated: " + std::to_string(bytes.size()) + " bytes, the header of " + std::to_string(ndim) +
                        " dims needs " + std::to_string(header_bytes));
  }
  IdxArray array;
  const uint64_t payload = bytes.size() - header_bytes;
  uint64_t count = 1;
  for (size_t i = 0; i < ndim; ++i) {
    array.dims.push_back(read_big_endian_u32(bytes.data() + 4 + 4 * i));
    // A product that wraps around 2^64 could equal the payload (dims 4 x 2^31 x 2^31 "hold" 0 bytes) and
    // hand a consumer dims far beyond its values.
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(array.dims.back()), &count)) {
      fail("dim " + std::to_string(i), 4 + 4 * i,
           "truncated: dims promise more than 2^64 element bytes, file holds " + std::to_string(payload));
    }
  }
  if (payload < count) {
    fail("data", header_bytes, "truncated: dims promise " + std::to_string(count) + " element bytes, file holds " +
                                   std::to_string(payload));
  }
  if (payload > count) {
    fail("data", header_bytes + count, "trailing bytes: dims promise " + std::to_string(count) +
                                           " element bytes, file holds " + std::to_string(payload));
  }
  array.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header_bytes), bytes.end());
  return array;
}

void write_idx(const std::string& path, const IdxArray& array, bool gzip) {
  if (array.dims.empty() || array.dims.size() > 255) {
    throw std::invalid_argument("write_idx: " + path + ": needs 1..255 dims, got " +
                                std::to_string(array.dims.size()));
  }
  uint64_t count = 1;
  for (int64_t dim : array.dims) count *= static_cast<uint64_t>(dim);
  if (count != array.values.size()) {
    throw std::invalid_argument("write_idx: " + path + ": dims hold " + std::to_string(count) +
                                " elements, values has " + std::to_string(array.values.size()));
  }
  std::vector<uint8_t> bytes;
  bytes.reserve(4 + 4 * array.dims.size() + array.values.size());
  append_big_endian_u32(bytes, 0x00000800u | static_cast<uint32_t>(array.dims.size()));
  for (int64_t dim : array.dims) append_big_endian_u32(bytes, static_cast<uint32_t>(dim));
  bytes.insert(bytes.end(), array.values.begin(), array.values.end());
  write_file_bytes(path, bytes, gzip);
}

}  // namespace qforge::data
