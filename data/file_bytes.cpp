#include "data/file_bytes.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace qforge::data {
namespace {

std::vector<uint8_t> read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("read_file_bytes: cannot open " + path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("read_file_bytes: read error in " + path);
  return bytes;
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error("read_file_bytes: cannot open " + path);
  std::vector<uint8_t> bytes;
  constexpr unsigned kChunk = 1u << 20;
  for (;;) {
    const size_t old_size = bytes.size();
    bytes.resize(old_size + kChunk);
    const int got = gzread(file, bytes.data() + old_size, kChunk);
    if (got < 0) {
      int code = 0;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      throw std::runtime_error("read_file_bytes: corrupt gzip stream in " + path + ": " + message);
    }
    bytes.resize(old_size + static_cast<size_t>(got));
    if (got == 0) break;
  }
  // zlib reports a stream cut short only through gzclose / gzerror (Z_BUF_ERROR).
  int code = Z_OK;
  gzerror(file, &code);
  const int close_code = gzclose(file);
  if (code == Z_BUF_ERROR || close_code == Z_BUF_ERROR) {
    throw std::runtime_error("read_file_bytes: truncated gzip stream in " + path);
  }
  return bytes;
}

bool has_gzip_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[2] = {0, 0};
  in.read(reinterpret_cast<char*>(magic), 2);
  return in.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw std::runtime_error("read_file_bytes: missing file " + path);
  }
  return has_gzip_magic(path) ? read_gzip(path) : read_plain(path);
}

std::string read_text_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return {bytes.begin(), bytes.end()};
}

void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (!gzip) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("write_file_bytes: cannot write " + path);
    return;
  }
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("write_file_bytes: cannot open " + path);
  // gzwrite takes an unsigned length, so large buffers go in 1 GiB pieces.
  constexpr size_t kPiece = size_t{1} << 30;
  bool ok = true;
  for (size_t offset = 0; ok && offset < bytes.size(); offset += kPiece) {
    const auto piece = static_cast<unsigned>(std::min(kPiece, bytes.size() - offset));
    ok = gzwrite(file, bytes.data() + offset, piece) == static_cast<int>(piece);
  }
  const int close_code = gzclose(file);
  if (!ok || close_code != Z_OK) {
    throw std::runtime_error("write_file_bytes: cannot write gzip " + path);
  }
}

}  // namespace qforge::data
