// qforge vocabularies as BPE tokenizers (vocabulary_bpe.h).
#include "exporters/tokenizers/vocabulary_bpe.h"

#include <stdexcept>

#include "exporters/tokenizers/byte_level.h"

namespace qforge::exporters::tokenizers {
namespace {

constexpr const char* kWordMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

bool is_reserved(const std::string& t) { return t == "<unk>" || t == "<s>" || t == "</s>"; }

bool is_byte_token(const std::string& t) {
  return t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>';
}

// One UTF-8 character (a char vocabulary's entries; the GGUF form writes ' ' as U+2581 already).
bool is_one_character(const std::string& t) {
  if (t.empty()) return false;
  const auto lead = static_cast<unsigned char>(t[0]);
  const size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  return length == t.size();
}

void add_reserved(const std::vector<std::string>& vocabulary, std::vector<AddedToken>& added, BpeOptions& options) {
  for (size_t id = 0; id < vocabulary.size(); ++id) {
    if (!is_reserved(vocabulary[id])) continue;
    added.push_back(AddedToken{static_cast<int32_t>(id), vocabulary[id], true, false, false});
    if (vocabulary[id] == "<unk>") options.unk = static_cast<int32_t>(id);
  }
}

BpeTokenizer char_bpe(const std::vector<std::string>& vocabulary) {
  std::vector<std::string> tokens;
  bool space = false, marker = false, bytes = false;
  for (size_t id = 0; id < vocabulary.size(); ++id) {
    const std::string& t = vocabulary[id];
    if (is_byte_token(t)) bytes = true;
    else if (!is_reserved(t) && !is_one_character(t))
      throw std::invalid_argument("char vocabulary: token " + std::to_string(id) + " '" + t + "' is not one character");
    space |= t == " ";
    marker |= t == kWordMarker;
    tokens.push_back(t == " " ? kWordMarker : t);
  }
  if (space && marker)
    throw std::invalid_argument("char vocabulary: it holds both ' ' and U+2581, which SentencePiece-style BPE "
                                "cannot tell apart");
  BpeOptions options;
  options.flavour = BpeFlavour::kSentencePiece;
  options.prepend = BpeOptions::Prepend::kNever;
  options.split_on_word_marker = false;
  options.byte_fallback = bytes;
  std::vector<AddedToken> added;
  add_reserved(vocabulary, added, options);
  return BpeTokenizer(std::move(tokens), {}, std::move(added), options);
}

BpeTokenizer byte_bpe(const std::vector<std::string>& vocabulary) {
  std::vector<std::string> tokens;
  for (size_t id = 0; id < vocabulary.size(); ++id) {
    const std::string& t = vocabulary[id];
    if (id < 256 && !is_byte_token(t))
      throw std::invalid_argument("byte vocabulary: token " + std::to_string(id) + " '" + t + "' is not <0xXX>");
    if (id >= 256 && !is_reserved(t))
      throw std::invalid_argument("byte vocabulary: token " + std::to_string(id) + " '" + t + "' is not <unk>, <s> or </s>");
    tokens.push_back(id < 256 ? byte_to_unicode(static_cast<uint8_t>(std::stoi(t.substr(3, 2), nullptr, 16))) : t);
  }
  BpeOptions options;
  options.flavour = BpeFlavour::kByteLevel;
  options.pre = PreTokenizer::kGpt2;
  std::vector<AddedToken> added;
  add_reserved(vocabulary, added, options);
  options.unk.reset();  // every byte is a token: nothing is unknown
  return BpeTokenizer(std::move(tokens), {}, std::move(added), options);
}

}  // namespace

BpeTokenizer vocabulary_bpe(const std::string& kind, const std::vector<std::string>& vocabulary) {
  if (kind == "char") return char_bpe(vocabulary);
  if (kind == "byte") return byte_bpe(vocabulary);
  throw std::invalid_argument("vocabulary_bpe: kind '" + kind + "' is not char or byte");
}

}  // namespace qforge::exporters::tokenizers
