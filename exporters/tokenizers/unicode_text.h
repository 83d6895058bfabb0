#pragma once
// The Unicode facts the pre-tokenizers need, from ICU (libicu-dev, Debian's ICU 72 = Unicode 15.0):
// general categories L* and N* (the regex classes \p{L} and \p{N}), the White_Space property (\s in
// Oniguruma, which Hugging Face tokenizers compiles its patterns with, and in llama.cpp's
// unicode.cpp tables), and NFC normalization (the "NFC" normalizer of Qwen2's tokenizer.json).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::exporters::tokenizers {

// One decoded character and where its bytes start. Malformed UTF-8 does not stop tokenization:
// each byte of a malformed sequence becomes its own character with code point kInvalidCodePoint,
// so byte-level BPE still sees (and encodes) every input byte.
struct CodePoint {
  char32_t value;
  uint32_t offset;
};
constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;

// Lenient UTF-8 decoding (RFC 3629); the result ends with a sentinel {0, text.size()} so that
// code_points[i + 1].offset is always the end of character i.
std::vector<CodePoint> decode_utf8_lenient(std::string_view text);

// Character classes of the pre-tokenizer regexes.
enum CharClass : uint8_t {
  kLetter = 1,        // \p{L}: Lu Ll Lt Lm Lo
  kNumber = 2,        // \p{N}: Nd Nl No
  kWhitespace = 4,    // \s: Unicode White_Space
  kNewline = 8,       // [\r\n]
  kPunctuation = 16,  // \p{P}: Pc Pd Ps Pe Pi Pf Po (DeepSeek Coder)
  kMark = 32,         // \p{M}: Mn Mc Me (Tekken)
  kUpper = 64,        // \p{Lu} \p{Lt} (Tekken's case classes)
  kLower = 128,       // \p{Ll}
};
uint8_t char_class(char32_t code_point);

// NFC (Unicode Standard Annex #15). std::invalid_argument if ICU rejects the text.
std::string nfc(std::string_view text);

// UTF-8 of one code point (no validation: callers pass decoded values).
void append_utf8(std::string& out, char32_t code_point);

}  // namespace qforge::exporters::tokenizers
