#pragma once
// Calibration text for a language-model run (importance matrices, docs/gguf.md §8): the
// run's own training split, or any text file encoded with the run's tokenizer.
#include <filesystem>
#include <string>

#include "data/tokenizer.h"
#include "layers/llama.h"
#include "ptq/method.h"

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

// Calibration batches of a post-training method on `model` from `tokens`: batch b runs chunks
// [b·batch_chunks, (b+1)·batch_chunks) of `chunk_size` tokens, each chunk a fresh sequence, i.e. the
// first `chunks` chunks exactly as `qforge imatrix --chunks <chunks> --batch-chunks <batch_chunks>`
// reads them (ptq/input_statistics.h), so an imatrix and a method's Hessians see the same inputs.
// std::invalid_argument when the tokens hold fewer than `chunks` chunks or chunk_size exceeds the context.
ptq::Calibration chunk_calibration(layers::LlamaForCausalLM& model, const data::TokenIds& tokens, int64_t chunk_size,
                                   int64_t chunks, int64_t batch_chunks = 8);

}  // namespace qforge::trainers
