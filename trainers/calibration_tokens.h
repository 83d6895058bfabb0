#pragma once
// Calibration text for a language-model run (importance matrices, docs/gguf.md §8): the
// run's own training split, or any text file encoded with the run's tokenizer.
#include <filesystem>
#include <string>

#include "data/tokenizer.h"

namespace qforge::trainers {

struct CalibrationTokens {
  data::TokenIds tokens;
  std::string dataset;  // what the tokens came from (recorded in imatrix.datasets)
};

// With an empty `text_file`: the training split of the run's data (corpus or token file, the same
// split LanguageModelTask trains on, so the validation tail stays unseen). Otherwise the file's text
// encoded with the checkpoint's tokenizer. Errors name the checkpoint or file: not a language-model
// run, a token-id run given a text file, characters the char tokenizer does not know.
CalibrationTokens calibration_tokens(const std::filesystem::path& checkpoint_dir, const std::string& text_file = "");

}  // namespace qforge::trainers
