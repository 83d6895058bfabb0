#include "data/utf8.h"

#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace qforge::data {
namespace {

[[noreturn]] void malformed(size_t offset, unsigned char byte) {
  char text[96];
  std::snprintf(text, sizeof(text), "utf8: malformed sequence at byte %zu (0x%02x)", offset, byte);
  throw std::invalid_argument(text);
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace

std::u32string utf8_to_code_points(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    int length = 0;
    char32_t c = 0, minimum = 0;
    if (lead < 0x80) { length = 1; c = lead; }
    else if ((lead & 0xE0) == 0xC0) { length = 2; c = lead & 0x1F; minimum = 0x80; }
    else if ((lead & 0xF0) == 0xE0) { length = 3; c = lead & 0x0F; minimum = 0x800; }
    else if ((lead & 0xF8) == 0xF0) { length = 4; c = lead & 0x07; minimum = 0x10000; }
    else malformed(i, lead);
    if (i + static_cast<size_t>(length) > text.size()) malformed(i, lead);
    for (int k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
      if ((next & 0xC0) != 0x80) malformed(i + static_cast<size_t>(k), next);
      c = (c << 6) | (next & 0x3F);
    }
    if (c < minimum || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) malformed(i, lead);
    out += c;
    i += static_cast<size_t>(length);
  }
  return out;
}

std::string code_points_to_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) {
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      throw std::invalid_argument("utf8: code point " + std::to_string(static_cast<uint32_t>(c)) +
                                  " cannot be encoded");
    }
    append_utf8(out, c);
  }
  return out;
}

std::string describe_code_point(char32_t code_point) {
  char code[16];
  std::snprintf(code, sizeof(code), "U+%04X", static_cast<unsigned>(code_point));
  if (code_point < 0x20 || code_point == 0x7F) return code;
  // Built by appends: GCC 12 warns falsely (-Wrestrict) on "'" + std::string temporaries.
  std::string text(1, '\'');
  text += code_points_to_utf8(std::u32string(1, code_point));
  text += "' (";
  text += code;
  text += ')';
  return text;
}

}  // namespace qforge::data
