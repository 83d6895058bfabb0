#pragma once
// The tokenizer files of `qforge export --format hf` (docs/hf.md §10): tokenizer.json and
// tokenizer_config.json for the run's vocabulary, as transformers' AutoTokenizer
// (PreTrainedTokenizerFast) and tokenizers.js load them:
//   "hf" runs   the tokenizer.json they trained with, byte for byte;
//   char, byte  exporters/tokenizers/vocabulary_bpe.h, written by tokenizer_json.h's writer;
//   token ids   none (the files of an earlier export in the folder are removed).
#include <filesystem>
#include <string>

#include "exporters/model_export.h"

namespace qforge::exporters::hf {

/// Writes the files into `dir` for `model`; returns what was written, or why nothing was (a note).
/// `context` is tokenizer_config.json's model_max_length.
std::string write_hf_tokenizer(const LlamaExport& model, const std::filesystem::path& dir, int64_t context);

}  // namespace qforge::exporters::hf
