// Unicode classification and NFC through ICU; see unicode_text.h for which regex class is which property.
#include "exporters/tokenizers/unicode_text.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <array>
#include <stdexcept>

namespace qforge::exporters::tokenizers {
namespace {

// The length a lead byte announces, 0 for a continuation or invalid lead byte.
size_t sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The code point of a well-formed sequence at text[at], or kInvalidCodePoint (truncated, bad continuation,
// overlong, surrogate or above U+10FFFF: RFC 3629 section 4).
char32_t decode_one(std::string_view text, size_t at, size_t length) {
  if (length == 0 || at + length > text.size()) return kInvalidCodePoint;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[at + i]); };
  if (length == 1) return byte(0);
  char32_t value = byte(0) & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return kInvalidCodePoint;
    value = (value << 6) | (byte(i) & 0x3F);
  }
  static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kSmallest[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return kInvalidCodePoint;
  return value;
}

uint8_t classify(char32_t c) {
  uint8_t flags = 0;
  const uint32_t mask = U_GET_GC_MASK(static_cast<UChar32>(c));
  if (mask & U_GC_L_MASK) flags |= kLetter;
  if (mask & U_GC_N_MASK) flags |= kNumber;
  if (mask & U_GC_P_MASK) flags |= kPunctuation;
  if (mask & U_GC_M_MASK) flags |= kMark;
  if (mask & (U_GC_LU_MASK | U_GC_LT_MASK)) flags |= kUpper;
  if (mask & U_GC_LL_MASK) flags |= kLower;
  if (u_isUWhiteSpace(static_cast<UChar32>(c))) flags |= kWhitespace;
  if (c == '\r' || c == '\n') flags |= kNewline;
  return flags;
}

// Latin-1 covers nearly every character of English text; the rest go to ICU (a trie lookup).
const std::array<uint8_t, 256>& latin1_classes() {
  static const std::array<uint8_t, 256> table = [] {
    std::array<uint8_t, 256> t{};
    for (char32_t c = 0; c < 256; ++c) t[c] = classify(c);
    return t;
  }();
  return table;
}

}  // namespace

std::vector<CodePoint> decode_utf8_lenient(std::string_view text) {
  std::vector<CodePoint> out;
  out.reserve(text.size() + 1);
  for (size_t at = 0; at < text.size();) {
    const size_t length = sequence_length(static_cast<uint8_t>(text[at]));
    const char32_t value = decode_one(text, at, length);
    out.push_back({value, static_cast<uint32_t>(at)});
    at += value == kInvalidCodePoint ? 1 : length;
  }
  out.push_back({0, static_cast<uint32_t>(text.size())});
  return out;
}

uint8_t char_class(char32_t code_point) {
  if (code_point < 256) return latin1_classes()[code_point];
  if (code_point == kInvalidCodePoint) return 0;
  return classify(code_point);
}

std::string nfc(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) throw std::runtime_error(std::string("nfc: ICU has no NFC data: ") + u_errorName(status));
  const icu::UnicodeString source = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  // Already-normalized text (the common case) is returned as it is, bytes unchanged.
  if (normalizer->isNormalized(source, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  const icu::UnicodeString normalized = normalizer->normalize(source, status);
  if (U_FAILURE(status)) throw std::invalid_argument(std::string("nfc: ") + u_errorName(status));
  std::string out;
  normalized.toUTF8String(out);
  return out;
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

}  // namespace qforge::exporters::tokenizers
