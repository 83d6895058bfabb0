#pragma once
// One BPE engine for the two BPE flavours Hugging Face tokenizer.json files and llama.cpp GGUF
// vocabularies use (docs/tokenizers.md §1-4):
//   byte-level (GPT-2, Llama 3, Qwen2, DeepSeek, Tekken): a regex pre-tokenizer splits the text into
//     words, each word's bytes become GPT-2's byte characters (byte_level.h), one symbol per byte;
//   SentencePiece-style (Llama 2, Mistral tokenizer.json): ' ' becomes U+2581 "▁" (and one "▁" is
//     prepended to the text), the whole text is one word, one symbol per UTF-8 character, and a
//     symbol that is no token falls back to its bytes' "<0xXX>" tokens.
// Then, in both, adjacent symbols are merged by merge rank, lowest rank first and leftmost first
// among equal ranks (HF tokenizers' BPE::merge_word; llama.cpp llm_tokenizer_bpe_session). Added
// tokens are split out of the text before anything else, leftmost then longest match first (HF's
// AddedVocabulary); encode(text, false) splits out only non-special ones, as llama.cpp's
// tokenize(parse_special = false) leaves control tokens as text.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "exporters/tokenizers/pre_tokenizer.h"

namespace qforge::exporters::tokenizers {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = true;
  bool lstrip = false;  // whitespace before the token is dropped (HF AddedToken.lstrip)
  bool rstrip = false;  // whitespace after it is dropped
};

enum class BpeFlavour { kByteLevel, kSentencePiece };

struct BpeOptions {
  BpeFlavour flavour = BpeFlavour::kByteLevel;
  PreTokenizer pre = PreTokenizer::kLlama3;  // byte-level only
  // A word that is a token as a whole is taken without merging (HF BPE.ignore_merges; llama.cpp sets it
  // for "llama-bpe").
  bool ignore_merges = false;
  bool nfc = false;                 // NFC normalizer before pre-tokenization (Qwen2's tokenizer.json)
  // SentencePiece-style: where "▁" is prepended. kAlways: before every text piece between added tokens
  // (the Prepend("▁") normalizer; llama.cpp's add_space_prefix); kFirst: only before a piece at the very
  // start of the text (Metaspace prepend_scheme "first").
  enum class Prepend { kNever, kFirst, kAlways } prepend = Prepend::kAlways;
  bool split_on_word_marker = false;  // SentencePiece-style: Metaspace split = true, one word per "▁"
  bool byte_fallback = false;         // "<0xXX>" tokens for bytes of a symbol that is no token
  std::optional<int32_t> unk;         // emitted for such a symbol otherwise (else it is dropped)
  bool fuse_unk = false;              // consecutive unknown symbols of a word give one unk (HF BPE fuse_unk)
};

class BpeTokenizer {
 public:
  // tokens[id] is each token's text (byte-level vocabularies in byte characters; "" for an id no token
  // has); merges are pairs of token texts in rank order; added tokens must have ids < tokens.size().
  // std::invalid_argument naming the merge or token that does not fit.
  BpeTokenizer(std::vector<std::string> tokens, const std::vector<std::pair<std::string, std::string>>& merges,
               std::vector<AddedToken> added, BpeOptions options);

  std::vector<int32_t> encode(std::string_view text, bool split_special = true) const;
  // Ids -> text; special added tokens are kept unless skip_special. std::out_of_range for a bad id.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  size_t size() const { return tokens_.size(); }
  const std::string& token(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }
  // Merges in rank order, as (left id, right id).
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  const BpeOptions& options() const { return options_; }
  // -1 when `text` is no token.
  int32_t find(std::string_view text) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  struct Piece {
    int32_t added;  // index into added_, or -1 for text
    size_t begin, end;
  };
  std::vector<Piece> split_added(std::string_view text, bool split_special) const;
  void encode_byte_level(std::string_view text, std::vector<int32_t>& out) const;
  void encode_sentencepiece(std::string_view text, bool at_start, std::vector<int32_t>& out) const;
  // Merges the word's symbols ([begin, end) byte spans of `word` with their token ids, -1 for no
  // token) and appends the resulting ids.
  void encode_word(std::string_view word, std::vector<int32_t> ids, std::vector<uint32_t> ends,
                   std::vector<int32_t>& out) const;
  bool emit_unknown(std::string_view bytes, bool after_unk, std::vector<int32_t>& out) const;

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<std::pair<int32_t, int32_t>> merges_;
  std::unordered_map<uint64_t, Merge> merge_table_;  // (left << 32 | right) -> rank and result
  std::vector<AddedToken> added_;
  std::vector<std::vector<int32_t>> added_by_first_byte_;  // indices into added_, longest first
  std::vector<int32_t> added_by_id_;  // token id -> index into added_, -1 for model tokens
  std::vector<int32_t> byte_ids_;     // byte-level: the token of each byte's character; -1 if none
  BpeOptions options_;
};

}  // namespace qforge::exporters::tokenizers
