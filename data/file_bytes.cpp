#include "data/file_bytes.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>

#include "io/atomic_file.h"

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

namespace {

// gzip (RFC 1952) in memory through zlib's deflate with windowBits 15 + 16, so a gzipped file is written
// atomically like any other. avail_in / avail_out are 32-bit, so input goes in 1 GiB pieces.
std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& bytes, const std::string& path) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("write_file_bytes: cannot start gzip for " + path);
  constexpr size_t kPiece = size_t{1} << 30, kOutput = size_t{1} << 20;
  std::vector<uint8_t> out;
  size_t offset = 0;
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    if (stream.avail_in == 0 && offset < bytes.size()) {
      const size_t piece = std::min(kPiece, bytes.size() - offset);
      stream.next_in = const_cast<Bytef*>(bytes.data() + offset);
      stream.avail_in = static_cast<uInt>(piece);
      offset += piece;
    }
    const size_t used = out.size();
    out.resize(used + kOutput);
    stream.next_out = out.data() + used;
    stream.avail_out = static_cast<uInt>(kOutput);
    status = deflate(&stream, offset == bytes.size() ? Z_FINISH : Z_NO_FLUSH);
    out.resize(used + kOutput - stream.avail_out);
    if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) {
      deflateEnd(&stream);
      throw std::runtime_error("write_file_bytes: cannot gzip " + path);
    }
  }
  deflateEnd(&stream);
  return out;
}

}  // namespace

void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  const std::vector<uint8_t> data = gzip ? gzip_bytes(bytes, path) : std::vector<uint8_t>();
  const std::vector<uint8_t>& written = gzip ? data : bytes;
  io::write_file_atomically(path, std::as_bytes(std::span<const uint8_t>(written.data(), written.size())));
}

}  // namespace qforge::data
