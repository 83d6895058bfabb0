#include "trainers/calibration_tokens.h"

#include <algorithm>
#include <stdexcept>

#include "data/file_bytes.h"
#include "data/fortunes_corpus.h"
#include "data/token_file.h"
#include "data/token_windows.h"
#include "trainers/language_model_setup.h"
#include "trainers/run_folder.h"

namespace qforge::trainers {

CalibrationTokens calibration_tokens(const std::filesystem::path& dir, const std::string& text_file) {
  const RunFolder run = open_run_folder(dir);
  if (!run.config.model().has_llama() || !run.config.data().has_text()) {
    throw std::invalid_argument(dir.string() + ": not a language-model run (no model.llama / data.text)");
  }
  if (!text_file.empty()) {
    const LanguageModelRun lm = language_model_run(run, text_file);
    return {lm.tokenizer->encode(data::read_text_file(text_file)), text_file};
  }
  // The same tokens and split as LanguageModelTask's constructor.
  const config::TextData& text = run.config.data().text();
  data::TokenIds tokens;
  std::string name;
  if (!text.token_file().empty()) {
    tokens = data::read_token_file(text.token_file());
    name = text.token_file();
  } else {
    const std::string corpus = text.corpus().empty() ? data::load_fortunes_corpus() : data::read_text_file(text.corpus());
    const LanguageModelRun lm = language_model_run(run, "its corpus");
    tokens = lm.tokenizer->encode(corpus_part(corpus, text));
    name = text.corpus().empty() ? "fortunes" : text.corpus();
  }
  const double val_fraction = text.val_fraction() > 0 ? text.val_fraction() : 0.1;
  return {data::split_tokens(tokens, 1.0 - val_fraction).train, name + " (training split)"};
}

ptq::Calibration chunk_calibration(layers::LlamaForCausalLM& model, const data::TokenIds& tokens, int64_t chunk_size,
                                   int64_t chunks, int64_t batch_chunks) {
  if (chunk_size <= 0 || chunk_size > model.config().max_position_embeddings || chunks <= 0 || batch_chunks <= 0)
    throw std::invalid_argument("calibration: chunk size " + std::to_string(chunk_size) + " not in 1.." +
                                std::to_string(model.config().max_position_embeddings) + ", or chunks " +
                                std::to_string(chunks) + " / batch chunks " + std::to_string(batch_chunks) + " not positive");
  if (static_cast<int64_t>(tokens.size()) < chunks * chunk_size)
    throw std::invalid_argument("calibration: " + std::to_string(tokens.size()) + " tokens, fewer than " +
                                std::to_string(chunks) + " chunks of " + std::to_string(chunk_size));
  ptq::Calibration calibration;
  calibration.batches = (chunks + batch_chunks - 1) / batch_chunks;
  calibration.token_ids = [&tokens, chunk_size, chunks, batch_chunks](int64_t batch) {
    const int64_t first = batch * batch_chunks, rows = std::min(batch_chunks, chunks - first);
    std::vector<int64_t> ids(tokens.begin() + first * chunk_size, tokens.begin() + (first + rows) * chunk_size);
    return autograd::IndexTensor(autograd::Shape{rows, chunk_size}, std::move(ids));
  };
  calibration.forward = [&model, ids = calibration.token_ids](int64_t batch) { (void)model.forward(ids(batch)); };
  return calibration;
}

}  // namespace qforge::trainers
