#pragma once
// The SentencePiece ("llama") tokenizer a GGUF file carries (docs/gguf.md §4): tokenizer.ggml.tokens, .scores,
// .token_type and .add_space_prefix, tokenized as llama.cpp does (src/llama-vocab.cpp:
// llama_vocab::impl::tokenize, case LLAMA_VOCAB_TYPE_SPM, and llm_tokenizer_spm_session):
//   1. user-defined tokens are split out of the text first (tokenizer_st_partition; control and unknown
//      tokens stay plain text, as with parse_special = false),
//   2. each remaining text fragment gets a leading ' ' when add_space_prefix is set and it is the first
//      fragment or follows a split-out token, then every ' ' becomes U+2581,
//   3. the fragment is split into UTF-8 characters and adjacent symbols are merged while their
//      concatenation is a token, highest score first (ties: leftmost first),
//   4. a final symbol that is no token is re-split along its merge history, and pieces that are still no
//      token fall back to byte tokens "<0xXX>" (else the 1-byte token).
// No BOS/EOS is added: that matches llama.cpp's tokenize(text, add_special = false) and its
// tests/test-tokenizer-0 vectors.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "exporters/gguf/gguf_value.h"

namespace qforge::exporters::gguf {

// tokenizer.ggml.token_type values (llama.h enum llama_token_type).
enum class SpmTokenType : int32_t {
  kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

class SpmTokenizer {
 public:
  // scores and types may be empty (then 0 and kNormal, as llama.cpp assumes); otherwise they need at least
  // tokens.size() entries. std::invalid_argument naming the problem otherwise.
  SpmTokenizer(std::vector<std::string> tokens, std::vector<float> scores, std::vector<SpmTokenType> types,
               bool add_space_prefix);

  // The tokenizer of a GGUF file; tokenizer.ggml.model must be "llama" (SPM). Errors name `source` and the key.
  static SpmTokenizer from_gguf(const GgufFile& file, const std::string& source);

  // Text -> token ids (no BOS). std::runtime_error if a byte has neither a "<0xXX>" nor a 1-byte token.
  std::vector<int32_t> encode(std::string_view text) const;
  // Ids -> text as llama.cpp's token_to_piece(special = false): U+2581 -> ' ', byte tokens -> their byte,
  // control and unknown tokens -> nothing; with add_space_prefix the one leading space is removed
  // (llama_detokenize's remove_space). std::out_of_range for an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids) const;

  size_t size() const { return tokens_.size(); }
  const std::string& token(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }
  bool add_space_prefix() const { return add_space_prefix_; }

 private:
  // -1 when `text` is no token. Duplicate strings map to the last id, like llama.cpp's token_to_id.
  int32_t find(std::string_view text) const;
  int32_t byte_token(uint8_t byte) const;
  void encode_fragment(std::string text, std::vector<int32_t>& out) const;
  std::string piece(int32_t id) const;

  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<SpmTokenType> types_;
  bool add_space_prefix_ = true;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<int32_t> user_defined_;  // split out before SPM, longest first (cache_special_tokens order)
};

}  // namespace qforge::exporters::gguf
