// GPT-2's bytes_to_unicode table and its inverse (byte_level.h).
#include "exporters/tokenizers/byte_level.h"

#include <array>
#include <unordered_map>

#include "exporters/tokenizers/unicode_text.h"

namespace qforge::exporters::tokenizers {
namespace {

struct Tables {
  std::array<std::string, 256> to_unicode;
  std::unordered_map<char32_t, uint8_t> to_byte;
};

const Tables& tables() {
  static const Tables t = [] {
    Tables out;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t c = printable ? static_cast<char32_t>(b) : next++;
      append_utf8(out.to_unicode[b], c);
      out.to_byte[c] = static_cast<uint8_t>(b);
    }
    return out;
  }();
  return t;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) { return tables().to_unicode[byte]; }

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char b : bytes) out += tables().to_unicode[static_cast<uint8_t>(b)];
  return out;
}

std::optional<std::string> byte_level_decode(std::string_view text) {
  std::string out;
  const std::vector<CodePoint> points = decode_utf8_lenient(text);
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    const auto it = tables().to_byte.find(points[i].value);
    if (it == tables().to_byte.end()) return std::nullopt;
    out += static_cast<char>(it->second);
  }
  return out;
}

}  // namespace qforge::exporters::tokenizers
