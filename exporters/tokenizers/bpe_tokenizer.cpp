// The BPE engine of bpe_tokenizer.h: added-token split, pre-tokenization, merges by rank.
#include "exporters/tokenizers/bpe_tokenizer.h"

#include <algorithm>
#include <queue>
#include <stdexcept>

#include "exporters/tokenizers/byte_level.h"
#include "exporters/tokenizers/unicode_text.h"

namespace qforge::exporters::tokenizers {
namespace {

constexpr std::string_view kWordMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's escaped space

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

std::string byte_token_name(uint8_t byte) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
}

// HF AddedToken lstrip / rstrip trim Unicode whitespace; ASCII and Latin-1 spaces cover real use.
bool is_space_byte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// One queued merge: the pair (left, right) of adjacent symbols whose ids were (left_id, right_id).
struct Candidate {
  int32_t rank;
  int32_t left, right;
  int32_t left_id, right_id;
  int32_t result;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
};

}  // namespace

BpeTokenizer::BpeTokenizer(std::vector<std::string> tokens, const std::vector<std::pair<std::string, std::string>>& merges,
                           std::vector<AddedToken> added, BpeOptions options)
    : tokens_(std::move(tokens)), added_(std::move(added)), options_(options) {
  if (tokens_.empty()) throw std::invalid_argument("bpe tokenizer: the token list is empty");
  ids_.reserve(tokens_.size());
  // Duplicate texts map to the last id, as llama.cpp's token_to_id does.
  for (size_t id = 0; id < tokens_.size(); ++id)
    if (!tokens_[id].empty()) ids_[tokens_[id]] = static_cast<int32_t>(id);
  added_by_id_.assign(tokens_.size(), -1);
  for (size_t k = 0; k < added_.size(); ++k) {
    const AddedToken& a = added_[k];
    if (a.id < 0 || static_cast<size_t>(a.id) >= tokens_.size() || a.content.empty())
      throw std::invalid_argument("bpe tokenizer: added token '" + a.content + "' has id " + std::to_string(a.id) +
                                  " outside the vocabulary of " + std::to_string(tokens_.size()) + " or is empty");
    added_by_id_[a.id] = static_cast<int32_t>(k);
  }
  added_by_first_byte_.resize(256);
  for (size_t k = 0; k < added_.size(); ++k)
    added_by_first_byte_[static_cast<uint8_t>(added_[k].content[0])].push_back(static_cast<int32_t>(k));
  for (auto& list : added_by_first_byte_)
    std::stable_sort(list.begin(), list.end(),
                     [&](int32_t a, int32_t b) { return added_[a].content.size() > added_[b].content.size(); });
  merges_.reserve(merges.size());
  merge_table_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const int32_t l = find(left), r = find(right), result = find(left + right);
    if (l < 0 || r < 0 || result < 0)
      throw std::invalid_argument("bpe tokenizer: merge " + std::to_string(rank) + " '" + left + " " + right + "': '" +
                                  (l < 0 ? left : r < 0 ? right : left + right) + "' is no token");
    merges_.emplace_back(l, r);
    // A repeated pair keeps its first (lowest) rank, as a rank map built in order would.
    merge_table_.emplace(pair_key(l, r), Merge{static_cast<int32_t>(rank), result});
  }
  byte_ids_.assign(256, -1);
  for (int b = 0; b < 256; ++b) byte_ids_[b] = find(byte_to_unicode(static_cast<uint8_t>(b)));
}

int32_t BpeTokenizer::find(std::string_view text) const {
  const auto it = ids_.find(std::string(text));
  return it == ids_.end() ? -1 : it->second;
}

// Added tokens, leftmost first and then longest (HF AddedVocabulary's leftmost-longest match).
std::vector<BpeTokenizer::Piece> BpeTokenizer::split_added(std::string_view text, bool split_special) const {
  std::vector<Piece> pieces;
  size_t start = 0;
  for (size_t at = 0; at < text.size();) {
    int32_t best = -1;
    for (const int32_t k : added_by_first_byte_[static_cast<uint8_t>(text[at])]) {
      const AddedToken& a = added_[k];
      if ((a.special && !split_special) || !text.substr(at).starts_with(a.content)) continue;
      best = k;  // the first hit is the longest
      break;
    }
    if (best < 0) {
      ++at;
      continue;
    }
    const AddedToken& a = added_[best];
    size_t text_end = at;
    if (a.lstrip)
      while (text_end > start && is_space_byte(text[text_end - 1])) --text_end;
    if (text_end > start) pieces.push_back({-1, start, text_end});
    pieces.push_back({best, at, at + a.content.size()});
    at += a.content.size();
    if (a.rstrip)
      while (at < text.size() && is_space_byte(text[at])) ++at;
    start = at;
  }
  if (start < text.size()) pieces.push_back({-1, start, text.size()});
  return pieces;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool split_special) const {
  std::vector<int32_t> out;
  for (const Piece& piece : split_added(text, split_special)) {
    if (piece.added >= 0) {
      out.push_back(added_[piece.added].id);
      continue;
    }
    std::string normalized;
    std::string_view part = text.substr(piece.begin, piece.end - piece.begin);
    if (options_.nfc) part = normalized = nfc(part);
    if (options_.flavour == BpeFlavour::kByteLevel) encode_byte_level(part, out);
    else encode_sentencepiece(part, piece.begin == 0, out);
  }
  return out;
}

void BpeTokenizer::encode_byte_level(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<int32_t> ids;
  std::vector<uint32_t> ends;
  for (const auto& [begin, end] : pre_tokenize(text, options_.pre)) {
    const std::string_view word = text.substr(begin, end - begin);
    if (options_.ignore_merges) {
      if (const int32_t id = find(byte_level_encode(word)); id >= 0) {
        out.push_back(id);
        continue;
      }
    }
    ids.clear();
    ends.clear();
    for (size_t i = 0; i < word.size(); ++i) {
      ids.push_back(byte_ids_[static_cast<uint8_t>(word[i])]);
      ends.push_back(static_cast<uint32_t>(i + 1));
    }
    encode_word(word, ids, ends, out);
  }
}

void BpeTokenizer::encode_sentencepiece(std::string_view text, bool at_start, std::vector<int32_t>& out) const {
  using Prepend = BpeOptions::Prepend;
  std::string escaped;
  if (options_.prepend == Prepend::kAlways || (options_.prepend == Prepend::kFirst && at_start)) escaped = kWordMarker;
  for (const char c : text) {
    if (c == ' ') escaped += kWordMarker;
    else escaped += c;
  }
  const std::vector<CodePoint> points = decode_utf8_lenient(escaped);
  std::vector<int32_t> ids;
  std::vector<uint32_t> ends;
  size_t word_begin = 0;
  const auto flush = [&](size_t word_end) {
    if (word_end > word_begin) encode_word(std::string_view(escaped).substr(word_begin, word_end - word_begin), ids, ends, out);
    ids.clear();
    ends.clear();
    word_begin = word_end;
  };
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    const size_t begin = points[i].offset, end = points[i + 1].offset;
    // Metaspace split = true: every "▁" starts a new word.
    if (options_.split_on_word_marker && points[i].value == 0x2581) flush(begin);
    ids.push_back(find(std::string_view(escaped).substr(begin, end - begin)));
    ends.push_back(static_cast<uint32_t>(end - word_begin));
  }
  flush(escaped.size());
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<int32_t> ids, std::vector<uint32_t> ends,
                               std::vector<int32_t>& out) const {
  const int32_t n = static_cast<int32_t>(ids.size());
  std::vector<int32_t> prev(n), next(n);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || ids[left] < 0 || ids[right] < 0) return;
    const auto it = merge_table_.find(pair_key(ids[left], ids[right]));
    if (it != merge_table_.end()) queue.push({it->second.rank, left, right, ids[left], ids[right], it->second.result});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i, i + 1);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    // Stale: one side was merged (or removed) since this pair was queued.
    if (next[c.left] != c.right || ids[c.left] != c.left_id || ids[c.right] != c.right_id) continue;
    ids[c.left] = c.result;
    ends[c.left] = ends[c.right];
    ids[c.right] = -2;  // removed
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    next[c.right] = -1;
    consider(prev[c.left], c.left);
    consider(c.left, next[c.left]);
  }
  uint32_t begin = 0;
  bool after_unk = false;  // the previous symbol of the word came out as the unknown token
  for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = next[i]) {
    if (ids[i] >= 0) out.push_back(ids[i]);
    after_unk = ids[i] < 0 && emit_unknown(word.substr(begin, ends[i] - begin), after_unk, out);
    begin = ends[i];
  }
}

// A symbol that is no token: its bytes' "<0xXX>" tokens when all exist (byte fallback), else the
// unknown token, else nothing (llama.cpp and tokenizers.js both drop it when there is no unk). With
// fuse_unk, an unknown token right after another is not repeated (HF BPE::merge_word fuses runs of
// unknown symbols into one). True when the symbol came out as the unknown token.
bool BpeTokenizer::emit_unknown(std::string_view bytes, bool after_unk, std::vector<int32_t>& out) const {
  if (options_.byte_fallback) {
    std::vector<int32_t> fallback;
    for (const char b : bytes) {
      const int32_t id = find(byte_token_name(static_cast<uint8_t>(b)));
      if (id < 0) break;
      fallback.push_back(id);
    }
    if (fallback.size() == bytes.size()) {
      out.insert(out.end(), fallback.begin(), fallback.end());
      return false;
    }
  }
  if (!options_.unk) return false;
  if (!(options_.fuse_unk && after_unk)) out.push_back(*options_.unk);
  return true;
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  for (const int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size())
      throw std::out_of_range("bpe tokenizer: token id " + std::to_string(id) + " outside the vocabulary of " +
                              std::to_string(tokens_.size()));
    if (const int32_t k = added_by_id_[id]; k >= 0) {
      if (!(skip_special && added_[k].special)) out += added_[k].content;
      continue;
    }
    const std::string& text = tokens_[id];
    if (options_.flavour == BpeFlavour::kByteLevel) {
      const std::optional<std::string> bytes = byte_level_decode(text);
      out += bytes ? *bytes : text;
    } else if (text.size() == 6 && text.starts_with("<0x") && text.back() == '>') {
      out += static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16));
    } else {
      for (size_t at = 0; at < text.size();) {
        if (text.compare(at, kWordMarker.size(), kWordMarker) == 0) {
          out += ' ';
          at += kWordMarker.size();
        } else {
          out += text[at++];
        }
      }
    }
  }
  // The decoder's Strip(" ", 1, 0) undoes the prepended "▁".
  if (options_.flavour == BpeFlavour::kSentencePiece && options_.prepend != BpeOptions::Prepend::kNever &&
      out.starts_with(' '))
    out.erase(0, 1);
  return out;
}

}  // namespace qforge::exporters::tokenizers
