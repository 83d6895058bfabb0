#pragma once
// A Hugging Face tokenizer.json (exporters/tokenizers: byte-level or SentencePiece-style BPE) as a run's
// text tokenizer, data.text.tokenizer "hf" (run_config.proto TextData, docs/hf.md §10): the tokenizer of
// the run's Hugging Face folder (model.llama.hf), the default when that folder has a tokenizer.json.
// Text is encoded as HF's encode(text, add_special_tokens = false): added tokens written in the text are
// split out, no BOS/EOS is added (the post_processor is not read).
#include <memory>
#include <string>

#include "data/tokenizer.h"
#include "exporters/tokenizers/tokenizer_json.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

class HfTextTokenizer final : public data::Tokenizer {
 public:
  // `json_text` is a tokenizer.json's text, `source` names it in errors.
  HfTextTokenizer(const std::string& json_text, const std::string& source);
  int64_t vocab_size() const override { return static_cast<int64_t>(bpe_.size()); }
  data::TokenIds encode(std::string_view text) const override;
  std::string decode(const data::TokenIds& ids) const override;
  const exporters::tokenizers::BpeTokenizer& bpe() const { return bpe_; }

 private:
  exporters::tokenizers::BpeTokenizer bpe_;
};

// The tokenizer kind a text run uses: data.text.tokenizer, else "hf" when model.llama.hf names a folder
// with a tokenizer.json, else "char". "hf" without such a folder is an error naming the option.
std::string text_tokenizer_kind(const config::RunConfig& config);
// The text of model.llama.hf's tokenizer.json (what a run saves as its vocabulary).
std::string hf_tokenizer_json_text(const config::RunConfig& config);

}  // namespace qforge::trainers
