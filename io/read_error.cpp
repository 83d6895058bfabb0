#include "io/read_error.h"

namespace qforge::io {

std::string read_error(std::string_view format, std::string_view file, std::string_view field, uint64_t byte,
                       std::string_view what) {
  return std::string(format) + ": " + std::string(file) + ": " + std::string(field) + " at byte " +
         std::to_string(byte) + ": " + std::string(what);
}

std::string read_error(std::string_view format, std::string_view file, std::string_view field, std::string_view what) {
  return std::string(format) + ": " + std::string(file) + ": " + std::string(field) + ": " + std::string(what);
}

void throw_read_error(std::string_view format, std::string_view file, std::string_view field, uint64_t byte,
                      std::string_view what) {
  throw ReadError(read_error(format, file, field, byte, what));
}

std::string json_parse_error(std::string_view format, std::string_view file, uint64_t text_start, size_t parser_byte,
                             std::string_view parser_what) {
  if (parser_what.starts_with("[json.exception.")) {
    const size_t end = parser_what.find("] ");
    if (end != std::string_view::npos) parser_what.remove_prefix(end + 2);
  }
  const uint64_t byte = text_start + (parser_byte > 0 ? parser_byte - 1 : 0);
  return read_error(format, file, "JSON", byte, parser_what);
}

std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size() && out.size() < 80; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  if (out.size() >= 80) out += "...";
  return out;
}

}  // namespace qforge::io
