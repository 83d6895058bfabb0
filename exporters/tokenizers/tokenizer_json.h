#pragma once
// Hugging Face tokenizer.json (the serialization of the `tokenizers` library: model, normalizer,
// pre_tokenizer, added_tokens; docs/tokenizers.md §1-4) <-> BpeTokenizer. Read: model.type "BPE" with
//   byte-level: pre_tokenizer ByteLevel (use_regex: GPT-2's pattern) or Sequence[Split(Regex, "Isolated"),
//     ByteLevel(use_regex false)] with the Llama 3 or Qwen2 pattern (pre_tokenizer.h), normalizer null or NFC;
//   SentencePiece-style (Llama 2, Mistral): normalizer Sequence[Prepend("▁"), Replace(" ", "▁")] and no
//     pre-tokenizer, or pre_tokenizer Metaspace("▁", prepend_scheme, split); byte_fallback, unk_token.
// Anything else that changes the ids is refused with the field named. The decoder and post_processor
// are not read (encode adds no BOS/EOS: HF's encode(add_special_tokens = false)).
#include <filesystem>
#include <string>
#include <string_view>

#include "exporters/tokenizers/bpe_tokenizer.h"

namespace qforge::exporters::tokenizers {

// `source` names the file in errors: "<source>: <field>: ...".
BpeTokenizer parse_tokenizer_json(std::string_view json_text, const std::string& source);
BpeTokenizer read_tokenizer_json(const std::filesystem::path& path);

// The tokenizer.json that HF tokenizers (and tokenizers.js) read back to the same ids; written atomically.
std::string tokenizer_json_text(const BpeTokenizer& tokenizer);
void write_tokenizer_json(const BpeTokenizer& tokenizer, const std::filesystem::path& path);

}  // namespace qforge::exporters::tokenizers
