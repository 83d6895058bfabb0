#pragma once
// GPT-2's reversible byte <-> character map (encoder.py bytes_to_unicode, used by HF's ByteLevel
// pre-tokenizer and decoder and by llama.cpp's unicode_byte_to_utf8): the printable bytes
// '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF stand for themselves, the other 68 bytes map to
// U+0100, U+0101, ... in byte order. So every token of a byte-level vocabulary is printable text.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qforge::exporters::tokenizers {

// The UTF-8 of the character that stands for `byte`.
const std::string& byte_to_unicode(uint8_t byte);
// Bytes -> their byte-level characters.
std::string byte_level_encode(std::string_view bytes);
// The inverse; nullopt when `text` holds a character outside the map (e.g. an added token's text).
std::optional<std::string> byte_level_decode(std::string_view text);

}  // namespace qforge::exporters::tokenizers
