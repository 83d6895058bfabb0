// SentencePiece ("llama") tokenization as llama.cpp does it; the steps are listed in spm_tokenizer.h.
#include "exporters/gguf/spm_tokenizer.h"

#include <algorithm>
#include <map>
#include <queue>
#include <stdexcept>
#include <utility>

namespace qforge::exporters::gguf {
namespace {

constexpr std::string_view kWordMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's escaped space

// Bytes of the UTF-8 character a lead byte starts (llama.cpp unicode_len_utf8: continuation and invalid
// bytes count as one-byte characters).
size_t utf8_length(char lead) {
  static constexpr size_t kLengths[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[static_cast<uint8_t>(lead) >> 4];
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  size_t start = 0;
  for (size_t at = text.find(from); at != std::string_view::npos; at = text.find(from, start)) {
    out.append(text.substr(start, at - start)).append(to);
    start = at + from.size();
  }
  out.append(text.substr(start));
  return out;
}

struct Symbol {
  int prev;
  int next;
  size_t offset;
  size_t n;
};

// llm_bigram_spm: the queue pops the highest score, and among equal scores the smallest left index.
struct Bigram {
  int left;
  int right;
  float score;
  size_t size;
};
struct BigramOrder {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};

}  // namespace

SpmTokenizer::SpmTokenizer(std::vector<std::string> tokens, std::vector<float> scores, std::vector<SpmTokenType> types,
                           bool add_space_prefix)
    : tokens_(std::move(tokens)), scores_(std::move(scores)), types_(std::move(types)), add_space_prefix_(add_space_prefix) {
  if (tokens_.empty()) throw std::invalid_argument("spm tokenizer: the token list is empty");
  if (!scores_.empty() && scores_.size() < tokens_.size())
    throw std::invalid_argument("spm tokenizer: " + std::to_string(scores_.size()) + " scores for " +
                                std::to_string(tokens_.size()) + " tokens");
  if (!types_.empty() && types_.size() < tokens_.size())
    throw std::invalid_argument("spm tokenizer: " + std::to_string(types_.size()) + " token types for " +
                                std::to_string(tokens_.size()) + " tokens");
  scores_.resize(tokens_.size(), 0.0f);
  types_.resize(tokens_.size(), SpmTokenType::kNormal);
  for (size_t id = 0; id < tokens_.size(); ++id) {
    // llama.cpp replaces an empty token with a placeholder so it can never match text.
    if (tokens_[id].empty()) tokens_[id] = "[EMPTY_" + std::to_string(id) + "]";
    ids_[tokens_[id]] = static_cast<int32_t>(id);
    if (types_[id] == SpmTokenType::kUserDefined) user_defined_.push_back(static_cast<int32_t>(id));
  }
  // Same order as llama.cpp's cache_special_tokens (std::sort by length, longest first).
  std::sort(user_defined_.begin(), user_defined_.end(),
            [&](int32_t a, int32_t b) { return tokens_[a].size() > tokens_[b].size(); });
}

int32_t SpmTokenizer::find(std::string_view text) const {
  const auto it = ids_.find(std::string(text));
  return it == ids_.end() ? -1 : it->second;
}

int32_t SpmTokenizer::byte_token(uint8_t byte) const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char name[] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>', 0};
  if (const int32_t id = find(name); id >= 0) return id;
  if (const int32_t id = find(std::string(1, static_cast<char>(byte))); id >= 0) return id;
  throw std::runtime_error("spm tokenizer: byte 0x" + std::string{kHex[byte >> 4], kHex[byte & 15]} +
                           " has neither a <0xXX> token nor a 1-byte token");
}

// llm_tokenizer_spm_session::tokenize on one escaped text fragment.
void SpmTokenizer::encode_fragment(std::string text, std::vector<int32_t>& out) const {
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    const size_t n = std::min(utf8_length(text[offset]), text.size() - offset);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offset + n == text.size() ? -1 : index + 1, offset, n});
    offset += n;
  }
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  std::map<std::string, std::pair<int, int>> merged_from;  // rev_merge
  const auto try_add = [&](int left, int right) {
    if (left == -1 || right == -1) return;
    std::string joined = text.substr(symbols[left].offset, symbols[left].n + symbols[right].n);
    const int32_t id = find(joined);
    if (id < 0) return;
    queue.push({left, right, scores_[id], joined.size()});
    merged_from[std::move(joined)] = {left, right};
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);
  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale entry: one side was merged since it was queued.
    if (left.n == 0 || right.n == 0 || left.n + right.n != bigram.size) continue;
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }
  // resegment: a symbol that is no token is split back along its merge history, then into bytes.
  const auto resegment = [&](const auto& self, const Symbol& symbol) -> void {
    const std::string piece = text.substr(symbol.offset, symbol.n);
    if (const int32_t id = find(piece); id >= 0) {
      out.push_back(id);
      return;
    }
    const auto it = merged_from.find(piece);
    if (it == merged_from.end()) {
      for (const char byte : piece) out.push_back(byte_token(static_cast<uint8_t>(byte)));
      return;
    }
    self(self, symbols[it->second.first]);
    self(self, symbols[it->second.second]);
  };
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) resegment(resegment, symbols[i]);
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view text) const {
  // Fragments: raw text (token < 0, [begin, end) of text) or a split-out user-defined token.
  struct Fragment {
    int32_t token;
    size_t begin, end;
  };
  std::vector<Fragment> fragments;
  if (!text.empty()) fragments.push_back({-1, 0, text.size()});
  for (const int32_t special : user_defined_) {
    const std::string& needle = tokens_[special];
    std::vector<Fragment> split;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        split.push_back(f);
        continue;
      }
      size_t begin = f.begin;
      for (size_t at = text.substr(0, f.end).find(needle, begin); at != std::string_view::npos;
           at = text.substr(0, f.end).find(needle, begin)) {
        if (at > begin) split.push_back({-1, begin, at});
        split.push_back({special, at, at + needle.size()});
        begin = at + needle.size();
      }
      if (begin < f.end) split.push_back({-1, begin, f.end});
    }
    fragments = std::move(split);
  }
  std::vector<int32_t> out;
  bool previous_is_special = true;  // the first fragment gets the space prefix too
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      previous_is_special = true;
      continue;
    }
    std::string raw = add_space_prefix_ && previous_is_special ? " " : "";
    raw.append(text.substr(f.begin, f.end - f.begin));
    encode_fragment(replace_all(raw, " ", kWordMarker), out);
    previous_is_special = false;
  }
  return out;
}

namespace {

const Array* find_array(const GgufFile& file, const std::string& key, const std::string& source, bool required) {
  const Value* value = file.find(key);
  if (value == nullptr) {
    if (required) throw std::invalid_argument("spm tokenizer: " + source + ": missing key " + key);
    return nullptr;
  }
  const Array* array = value->get_if<Array>();
  if (array == nullptr)
    throw std::invalid_argument("spm tokenizer: " + source + ": key " + key + " has type " +
                                std::string(value_type_name(value->type())) + ", expected an array");
  return array;
}

[[noreturn]] void wrong_element(const std::string& source, const std::string& key, ValueType type, const char* want) {
  throw std::invalid_argument("spm tokenizer: " + source + ": key " + key + " holds " +
                              std::string(value_type_name(type)) + " elements, expected " + want);
}

}  // namespace

SpmTokenizer SpmTokenizer::from_gguf(const GgufFile& file, const std::string& source) {
  const Value* model = file.find("tokenizer.ggml.model");
  if (model == nullptr || model->get_if<std::string>() == nullptr || model->get<std::string>() != "llama")
    throw std::invalid_argument("spm tokenizer: " + source + ": tokenizer.ggml.model is not \"llama\" (SentencePiece)");
  std::vector<std::string> tokens;
  const std::string tokens_key = "tokenizer.ggml.tokens";
  for (const Value& v : find_array(file, tokens_key, source, true)->elements) {
    if (v.get_if<std::string>() == nullptr) wrong_element(source, tokens_key, v.type(), "string");
    tokens.push_back(v.get<std::string>());
  }
  std::vector<float> scores;
  const std::string scores_key = "tokenizer.ggml.scores";
  if (const Array* array = find_array(file, scores_key, source, false)) {
    for (const Value& v : array->elements) {  // llama.cpp accepts f32 or i32 scores
      if (const auto* f = v.get_if<float>()) scores.push_back(*f);
      else if (const auto* i = v.get_if<int32_t>()) scores.push_back(static_cast<float>(*i));
      else wrong_element(source, scores_key, v.type(), "f32 or i32");
    }
  }
  std::vector<SpmTokenType> types;
  const std::string types_key = "tokenizer.ggml.token_type";
  if (const Array* array = find_array(file, types_key, source, false)) {
    for (const Value& v : array->elements) {
      if (v.get_if<int32_t>() == nullptr) wrong_element(source, types_key, v.type(), "i32");
      types.push_back(static_cast<SpmTokenType>(v.get<int32_t>()));
    }
  }
  bool add_space_prefix = true;  // llama.cpp's default for SPM vocabularies
  if (const Value* v = file.find("tokenizer.ggml.add_space_prefix")) {
    if (v->get_if<bool>() == nullptr)
      throw std::invalid_argument("spm tokenizer: " + source + ": tokenizer.ggml.add_space_prefix is not a bool");
    add_space_prefix = v->get<bool>();
  }
  try {
    return SpmTokenizer(std::move(tokens), std::move(scores), std::move(types), add_space_prefix);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(source + ": " + e.what());
  }
}

std::string SpmTokenizer::piece(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size())
    throw std::out_of_range("spm tokenizer: token id " + std::to_string(id) + " outside the vocabulary of " +
                            std::to_string(tokens_.size()));
  const std::string& text = tokens_[id];
  switch (types_[id]) {
    case SpmTokenType::kNormal: return replace_all(text, kWordMarker, " ");
    case SpmTokenType::kUserDefined: return text;
    case SpmTokenType::kByte:
      if (text.size() == 6 && text.starts_with("<0x") && text.back() == '>')
        return std::string(1, static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16)));
      return text;
    default: return "";  // control, unknown, unused, undefined: suppressed like llama.cpp's CONTROL tokens
  }
}

std::string SpmTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (const int32_t id : ids) out += piece(id);
  if (add_space_prefix_ && out.starts_with(' ')) out.erase(0, 1);
  return out;
}

}  // namespace qforge::exporters::gguf
