#pragma once
// IDX files, the container of MNIST and Fashion-MNIST (LeCun et al., "THE MNIST DATABASE",
// http://yann.lecun.com/exdb/mnist/, section "FILE FORMATS FOR THE MNIST DATABASE"):
//   bytes 0-1  zero
//   byte  2    element type (0x08 = unsigned byte; the only type these data sets use)
//   byte  3    number of dimensions
//   then one big-endian uint32 per dimension, then the elements in row-major order.
// So images carry the magic 0x00000803 and labels 0x00000801.
#include <cstdint>
#include <string>
#include <vector>

namespace qforge::data {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;  // ubyte, 3 dims: [n, rows, cols]
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // ubyte, 1 dim: [n]

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;  // product(dims) bytes, row-major
};

// Reads an IDX file (gzip or plain) and checks its magic is `expected_magic`. Throws
// std::runtime_error naming the file for a missing file, a wrong magic, a header cut short,
// or fewer/more element bytes than the dimensions promise.
IdxArray read_idx(const std::string& path, uint32_t expected_magic);

// Writes `array` as an unsigned-byte IDX file (gzip-compressed when `gzip`).
void write_idx(const std::string& path, const IdxArray& array, bool gzip = false);

}  // namespace qforge::data
