#pragma once
// The one shape of a reader's error (issue 19, "Errors a user can act on"): the format, the file, the field or
// tensor, and where in the file, so a user can open the file at that byte and see what is wrong:
//   "FORMAT: FILE: FIELD at byte N: WHAT"   binary formats, N counted from 0 at the file's first byte
//   "FORMAT: FILE: FIELD: WHAT"              a JSON key path (nlohmann 3.11 keeps no positions of values)
// GGUF's reader set the pattern (exporters/gguf/gguf_reader.cpp); every reader formats through here.
// docs/reader-errors.md lists each reader's fields.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace qforge::io {

/// What throw_read_error throws: a std::runtime_error whose message is already whole, so a caller that adds
/// context (a wrapper naming the folder) can tell it from an error still to be placed.
class ReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// "FORMAT: FILE: FIELD at byte N: WHAT".
std::string read_error(std::string_view format, std::string_view file, std::string_view field, uint64_t byte,
                       std::string_view what);
/// "FORMAT: FILE: FIELD: WHAT", for a field without a position (a JSON key path).
std::string read_error(std::string_view format, std::string_view file, std::string_view field, std::string_view what);
/// Throws ReadError(read_error(format, file, field, byte, what)).
[[noreturn]] void throw_read_error(std::string_view format, std::string_view file, std::string_view field,
                                   uint64_t byte, std::string_view what);

/// A JSON text's parse error as "FORMAT: FILE: JSON at byte N: WHAT". `parser_byte` is nlohmann's
/// parse_error::byte, which counts from 1 (nlohmann/detail/exceptions.hpp: "byte index of the last read
/// character", 1 for the first); `text_start` is where the JSON text begins in the file (8 for a safetensors
/// header). The "[json.exception.parse_error.101] " tag of `parser_what` is dropped.
std::string json_parse_error(std::string_view format, std::string_view file, uint64_t text_start, size_t parser_byte,
                             std::string_view parser_what);

/// Text taken from the file (a key, a tensor name) made safe for a message: control and non-ASCII bytes as
/// \xNN (a NUL would cut the message short), at most 80 characters then "...".
std::string printable(std::string_view text);

}  // namespace qforge::io
