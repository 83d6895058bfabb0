#pragma once
// UTF-8 <-> Unicode code points (RFC 3629 section 3), strict: overlong forms, surrogates and
// values above U+10FFFF are errors, so every string has exactly one code-point sequence.
#include <string>
#include <string_view>

namespace qforge::data {

// Throws std::invalid_argument naming the byte offset and value of the first malformed sequence.
std::u32string utf8_to_code_points(std::string_view text);
std::string code_points_to_utf8(std::u32string_view code_points);
// "'a' (U+0061)" for error messages; control characters are shown by code only.
std::string describe_code_point(char32_t code_point);

}  // namespace qforge::data
