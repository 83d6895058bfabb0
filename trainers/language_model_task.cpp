#include "trainers/language_model_task.h"

#include <sstream>
#include <stdexcept>

#include "autograd/ops.h"
#include "data/byte_tokenizer.h"
#include "data/char_tokenizer.h"
#include "data/file_bytes.h"
#include "data/fortunes_corpus.h"
#include "data/token_file.h"
#include "layers/dropout.h"
#include "trainers/hf_text_tokenizer.h"
#include "trainers/language_model_setup.h"
#include "trainers/lora_model.h"

namespace qforge::trainers {

namespace ag = qforge::autograd;

namespace {

// Every logit row against its target: [b, t, vocab] x [b, t] -> mean cross-entropy.
ag::Variable next_token_loss(layers::LlamaForCausalLM& model, const ag::IndexTensor& inputs,
                             const ag::IndexTensor& targets) {
  const ag::Variable logits = model.forward(inputs);
  const int64_t vocab = logits.dim(-1);
  const ag::IndexTensor flat(ag::Shape{targets.numel()},
                             std::vector<int64_t>(targets.data(), targets.data() + targets.numel()));
  return ag::cross_entropy(ag::reshape(logits, {-1, vocab}), flat);
}

std::string format_state(const data::RngState& s) { return std::to_string(s.s0) + " " + std::to_string(s.s1); }

data::RngState parse_state(const std::string& text) {
  std::istringstream in(text);
  data::RngState s;
  if (!(in >> s.s0 >> s.s1)) throw std::runtime_error("checkpoint: malformed window state '" + text + "'");
  return s;
}

}  // namespace

LanguageModelTask::LanguageModelTask(const config::RunConfig& config)
    : batch_size_(config.data().batch_size() > 0 ? config.data().batch_size() : 64),
      context_(config.model().llama().max_position_embeddings()),
      seed_(config.trainer().seed()) {
  const config::TextData& text = config.data().text();
  tokenizer_kind_ = text_tokenizer_kind(config);
  data::TokenIds tokens;
  int64_t vocab = 0;
  std::vector<std::string> output_tokens;  // by output id, for checking a LoRA base's vocabulary
  if (!text.token_file().empty()) {
    tokens = data::read_token_file(text.token_file());
    tokenizer_kind_ = "ids";
    for (uint32_t id : tokens) vocab = std::max<int64_t>(vocab, id + 1);
  } else {
    const std::string corpus = text.corpus().empty() ? data::load_fortunes_corpus() : data::read_text_file(text.corpus());
    if (tokenizer_kind_ == "char") vocabulary_ = data::CharTokenizer::from_corpus(corpus).vocabulary_utf8();
    if (tokenizer_kind_ == "hf") vocabulary_ = hf_tokenizer_json_text(config);  // the file's text, kept in the checkpoint
    const auto tokenizer = restore_tokenizer(tokenizer_kind_, vocabulary_);
    tokens = tokenizer->encode(corpus_part(corpus, text));
    vocab = output_vocabulary(config.model().llama(), tokenizer_kind_, *tokenizer);
    output_tokens = output_token_strings(config.model().llama(), tokenizer_kind_, *tokenizer);
  }
  const double val_fraction = text.val_fraction() > 0 ? text.val_fraction() : 0.1;
  data::TokenSplit split = data::split_tokens(tokens, 1.0 - val_fraction);
  validation_ = std::move(split.validation);
  train_windows_ = std::make_unique<data::WindowSampler>(std::move(split.train), context_, batch_size_,
                                                         config.trainer().seed(), "training split");
  if (static_cast<int64_t>(validation_.size()) < context_ + 1) {
    throw std::invalid_argument("data.text: validation split holds " + std::to_string(validation_.size()) +
                                " tokens, too short for context " + std::to_string(context_));
  }
  const layers::LlamaConfig model_config = llama_config(config.model().llama(), vocab, config.trainer().seed());
  model_ = is_lora_run(config) ? build_lora_model(config, model_config, output_tokens)
                               : std::make_shared<layers::LlamaForCausalLM>(model_config);
}

namespace {
// Calibration streams sit above the training sampler's stream 0.
constexpr uint64_t kCalibrationStream = uint64_t{1} << 32;

// Windows [first, first + rows) of `ids` [batch, context].
ag::IndexTensor window_rows(const ag::IndexTensor& ids, int64_t first, int64_t rows) {
  if (first == 0 && rows >= ids.shape().dim(0)) return ids;
  const int64_t context = ids.shape().dim(1);
  const int64_t* begin = ids.data() + first * context;
  return ag::IndexTensor(ag::Shape{rows, context}, std::vector<int64_t>(begin, begin + rows * context));
}

// The first `rows` windows of `ids` [batch, context].
ag::IndexTensor first_rows(const ag::IndexTensor& ids, int64_t rows) {
  return window_rows(ids, 0, std::min(rows, ids.shape().dim(0)));
}
}  // namespace

ag::Variable LanguageModelTask::training_loss(int64_t /*step*/) {
  // The whole global batch is drawn on every rank (the sampler's position stays rank-count independent).
  const data::WindowBatch batch = train_windows_->next();
  const auto [first, rows] = shard_rows(batch.inputs.shape().dim(0));
  return next_token_loss(*model_, window_rows(batch.inputs, first, rows), window_rows(batch.targets, first, rows));
}

ag::Variable LanguageModelTask::calibration_loss(int64_t batch, int64_t rows) {
  const data::WindowBatch windows = train_windows_->fixed_batch(seed_, kCalibrationStream + static_cast<uint64_t>(batch));
  return next_token_loss(*model_, first_rows(windows.inputs, rows), first_rows(windows.targets, rows));
}

ag::IndexTensor LanguageModelTask::calibration_inputs(int64_t batch, int64_t rows) const {
  return first_rows(train_windows_->fixed_batch(seed_, kCalibrationStream + static_cast<uint64_t>(batch)).inputs, rows);
}

Evaluation LanguageModelTask::evaluate(int64_t max_batches) {
  ag::NoGradGuard no_grad;
  // Eval mode: activation observers of QAT must not learn from validation data.
  const bool was_training = model_->is_training();
  model_->eval();
  // Consecutive, non-overlapping windows of the validation tail: the same every evaluation.
  const int64_t windows = (static_cast<int64_t>(validation_.size()) - 1) / context_;
  int64_t batches = (windows + batch_size_ - 1) / batch_size_;
  if (max_batches > 0) batches = std::min(batches, max_batches);
  double loss_sum = 0.0;
  int64_t counted = 0;
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t first = b * batch_size_, rows = std::min(batch_size_, windows - first);
    std::vector<int64_t> inputs(rows * context_), targets(rows * context_);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t t = 0; t < context_; ++t) {
        inputs[r * context_ + t] = validation_[(first + r) * context_ + t];
        targets[r * context_ + t] = validation_[(first + r) * context_ + t + 1];
      }
    }
    const ag::Shape shape{rows, context_};
    loss_sum += next_token_loss(*model_, {shape, inputs}, {shape, targets}).item() * static_cast<double>(rows);
    counted += rows;
  }
  model_->train(was_training);
  return {loss_sum / static_cast<double>(counted), std::nullopt};
}

int64_t LanguageModelTask::default_steps(const config::TrainerConfig& trainer) const {
  // One "epoch" of random windows: as many tokens as the training split holds.
  const int64_t per_epoch = std::max<int64_t>(1, train_windows_->num_tokens() / items_per_step());
  return std::max<int64_t>(1, trainer.epochs()) * per_epoch;
}

StringPairs LanguageModelTask::save_state() const {
  StringPairs state = {{"train_windows", format_state(train_windows_->state())},
                       {"tokenizer", tokenizer_kind_},
                       {"tokenizer.vocabulary", vocabulary_}};
  // Dropout mask counters (LoRA dropout), so a resumed run draws the masks the uninterrupted one would.
  for (const auto& [path, module] : model_->named_modules()) {
    if (auto dropout = std::dynamic_pointer_cast<layers::Dropout>(module))
      state.emplace_back("dropout_seed." + path, std::to_string(dropout->next_seed()));
  }
  return state;
}

void LanguageModelTask::load_state(const StringPairs& state) {
  train_windows_->set_state(parse_state(metadata_value(state, "train_windows", "checkpoint")));
  for (const auto& [path, module] : model_->named_modules()) {
    auto dropout = std::dynamic_pointer_cast<layers::Dropout>(module);
    if (!dropout) continue;
    for (const auto& [key, value] : state)
      if (key == "dropout_seed." + path) dropout->set_seed(std::stoull(value));
  }
}

}  // namespace qforge::trainers
