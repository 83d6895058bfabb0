#include "trainers/calibration_tokens.h"

#include <stdexcept>

#include "data/file_bytes.h"
#include "data/fortunes_corpus.h"
#include "data/token_file.h"
#include "data/token_windows.h"
#include "trainers/checkpoint.h"
#include "trainers/language_model_task.h"
#include "trainers/run_config.h"
#include "trainers/task.h"

namespace qforge::trainers {

CalibrationTokens calibration_tokens(const std::filesystem::path& dir, const std::string& text_file) {
  const Checkpoint checkpoint = load_checkpoint(dir);
  const config::RunConfig config = parse_run_config(checkpoint.config_text, (dir / kCheckpointFile).string());
  if (!config.model().has_llama() || !config.data().has_text()) {
    throw std::invalid_argument(dir.string() + ": not a language-model run (no model.llama / data.text)");
  }
  const std::string& kind = find_value(checkpoint.metadata, "tokenizer", dir.string());
  if (!text_file.empty()) {
    if (kind == "ids") throw std::invalid_argument(dir.string() + ": trained on token ids; it has no tokenizer for " + text_file);
    const auto tokenizer = restore_tokenizer(kind, find_value(checkpoint.metadata, "tokenizer.vocabulary", dir.string()));
    return {tokenizer->encode(data::read_text_file(text_file)), text_file};
  }
  // The same tokens and split as LanguageModelTask's constructor.
  const config::TextData& text = config.data().text();
  data::TokenIds tokens;
  std::string name;
  if (!text.token_file().empty()) {
    tokens = data::read_token_file(text.token_file());
    name = text.token_file();
  } else {
    const std::string corpus = text.corpus().empty() ? data::load_fortunes_corpus() : data::read_text_file(text.corpus());
    const auto tokenizer = restore_tokenizer(kind, find_value(checkpoint.metadata, "tokenizer.vocabulary", dir.string()));
    tokens = tokenizer->encode(corpus_part(corpus, text));
    name = text.corpus().empty() ? "fortunes" : text.corpus();
  }
  const double val_fraction = text.val_fraction() > 0 ? text.val_fraction() : 0.1;
  return {data::split_tokens(tokens, 1.0 - val_fraction).train, name + " (training split)"};
}

}  // namespace qforge::trainers
