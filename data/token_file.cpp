#include "data/token_file.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "data/file_bytes.h"
#include "io/read_error.h"

namespace qforge::data {
namespace {

uint32_t read_le(const uint8_t* p, int width) {
  uint32_t value = 0;
  for (int k = width - 1; k >= 0; --k) value = (value << 8) | p[k];
  return value;
}

void append_le(std::vector<uint8_t>& out, uint32_t value, int width) {
  for (int k = 0; k < width; ++k) out.push_back(static_cast<uint8_t>(value >> (8 * k)));
}

int width_of(TokenFormat format) {
  return format == TokenFormat::kUint16 || format == TokenFormat::kLlmcUint16 ? 2 : 4;
}

bool is_llmc(TokenFormat format) { return format == TokenFormat::kLlmcUint16 || format == TokenFormat::kLlmcUint32; }

// The llm.c format named by the magic at the start of `path`, or kUint16 (nanoGPT) when absent.
TokenFormat sniff_bin(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t head[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(head), 4);
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (in.gcount() != 4 || error || size < 4 * kLlmcHeaderInts) return TokenFormat::kUint16;
  const auto magic = static_cast<int32_t>(read_le(head, 4));
  if (magic == kLlmcMagicUint16) return TokenFormat::kLlmcUint16;
  if (magic == kLlmcMagicUint32) return TokenFormat::kLlmcUint32;
  return TokenFormat::kUint16;
}

// Errors: "tokens: FILE: FIELD at byte N: what" (io/read_error.h).
[[noreturn]] void fail(const std::string& path, const std::string& field, uint64_t at, const std::string& what) {
  io::throw_read_error("tokens", path, field, at, what);
}

// Checks the llm.c header of `bytes` (int32 magic, version, token count at bytes 0, 4, 8) and returns the
// token count it declares.
size_t check_llmc_header(const std::string& path, const std::vector<uint8_t>& bytes, TokenFormat format) {
  const size_t header_bytes = 4 * kLlmcHeaderInts;
  if (bytes.size() < header_bytes) {
    fail(path, "llm.c header", 0, "is " + std::to_string(bytes.size()) + " bytes, shorter than the llm.c header of " +
                                      std::to_string(header_bytes));
  }
  const auto magic = static_cast<int32_t>(read_le(bytes.data(), 4));
  const int32_t expected = format == TokenFormat::kLlmcUint16 ? kLlmcMagicUint16 : kLlmcMagicUint32;
  if (magic != expected)
    fail(path, "llm.c magic", 0, "is " + std::to_string(magic) + ", expected " + std::to_string(expected));
  const auto version = static_cast<int32_t>(read_le(bytes.data() + 4, 4));
  if (version != 1) fail(path, "llm.c version", 4, "is " + std::to_string(version) + ", expected 1");
  const size_t count = read_le(bytes.data() + 8, 4);
  const size_t payload = bytes.size() - header_bytes;
  if (payload != count * static_cast<size_t>(width_of(format))) {
    fail(path, "llm.c token count", 8, "header declares " + std::to_string(count) + " tokens but holds " +
                                           std::to_string(payload) + " bytes of ids (from byte " +
                                           std::to_string(header_bytes) + ")");
  }
  return count;
}

}  // namespace

TokenFormat resolve_token_format(const std::string& path, TokenFormat format) {
  if (format != TokenFormat::kAuto) return format;
  const std::string extension = std::filesystem::path(path).extension().string();
  if (extension == ".u16" || extension == ".uint16") return TokenFormat::kUint16;
  if (extension == ".u32" || extension == ".uint32") return TokenFormat::kUint32;
  if (extension == ".bin") return sniff_bin(path);
  throw std::invalid_argument("token file " + path + ": cannot tell the id width from extension '" + extension +
                              "' (use .bin, .u16, .u32 or pass a TokenFormat)");
}

TokenIds read_token_file(const std::string& path, TokenFormat format) {
  format = resolve_token_format(path, format);
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const int width = width_of(format);
  size_t offset = 0;
  size_t count = 0;
  if (is_llmc(format)) {
    count = check_llmc_header(path, bytes, format);
    offset = 4 * kLlmcHeaderInts;
  } else {
    if (bytes.size() % static_cast<size_t>(width) != 0) {
      // The last whole id ends where the partial one starts.
      const size_t partial_at = bytes.size() / static_cast<size_t>(width) * static_cast<size_t>(width);
      fail(path, "ids", partial_at, "is " + std::to_string(bytes.size()) + " bytes, not a multiple of the " +
                                        std::to_string(width) + "-byte id width");
    }
    count = bytes.size() / static_cast<size_t>(width);
  }
  TokenIds ids(count);
  for (size_t i = 0; i < count; ++i) ids[i] = read_le(bytes.data() + offset + i * static_cast<size_t>(width), width);
  return ids;
}

void write_token_file(const std::string& path, const TokenIds& ids, TokenFormat format) {
  if (format == TokenFormat::kAuto) {
    const std::string extension = std::filesystem::path(path).extension().string();
    format = extension == ".bin" ? TokenFormat::kUint16 : resolve_token_format(path, format);
  }
  const int width = width_of(format);
  std::vector<uint8_t> bytes;
  bytes.reserve((is_llmc(format) ? 4 * kLlmcHeaderInts : 0) + ids.size() * static_cast<size_t>(width));
  if (is_llmc(format)) {
    std::vector<uint32_t> header(kLlmcHeaderInts, 0);
    header[0] = static_cast<uint32_t>(format == TokenFormat::kLlmcUint16 ? kLlmcMagicUint16 : kLlmcMagicUint32);
    header[1] = 1;
    header[2] = static_cast<uint32_t>(ids.size());
    for (uint32_t value : header) append_le(bytes, value, 4);
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (width == 2 && ids[i] > 0xFFFF) {
      throw std::invalid_argument("write_token_file: " + path + ": id " + std::to_string(ids[i]) + " at position " +
                                  std::to_string(i) + " does not fit uint16");
    }
    append_le(bytes, ids[i], width);
  }
  write_file_bytes(path, bytes);
}

}  // namespace qforge::data
