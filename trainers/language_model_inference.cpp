// Restoring a language-model run for inference, next-token distributions, and sampling.
#include "trainers/lora_model.h"
#include "trainers/language_model_inference.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "trainers/checkpoint.h"
#include "trainers/language_model_task.h"
#include "trainers/quantization_setup.h"

namespace qforge::trainers {

namespace ag = qforge::autograd;

namespace {

const std::string& metadata_value(const StringPairs& pairs, const std::string& key, const std::string& dir) {
  for (const auto& [k, v] : pairs)
    if (k == key) return v;
  throw std::runtime_error(dir + ": checkpoint metadata has no '" + key + "'");
}

int64_t sample_token(const float* logits, int64_t vocab, const GenerateOptions& o, std::mt19937_64& rng) {
  if (o.temperature <= 0.0f) return std::max_element(logits, logits + vocab) - logits;
  std::vector<int64_t> order(vocab);
  for (int64_t i = 0; i < vocab; ++i) order[i] = i;
  const int64_t keep = o.top_k > 0 ? std::min(o.top_k, vocab) : vocab;
  std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                    [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  std::vector<double> weights(keep);
  for (int64_t i = 0; i < keep; ++i) weights[i] = std::exp((logits[order[i]] - logits[order[0]]) / o.temperature);
  std::discrete_distribution<int64_t> pick(weights.begin(), weights.end());
  return order[pick(rng)];
}

}  // namespace

InferenceModel restore_inference_model(const std::filesystem::path& dir) {
  const Checkpoint checkpoint = load_checkpoint(dir);
  const config::RunConfig config = parse_run_config(checkpoint.config_text, (dir / kCheckpointFile).string());
  if (!config.model().has_llama()) throw std::invalid_argument(dir.string() + ": not a language-model run");
  const std::string& kind = metadata_value(checkpoint.metadata, "tokenizer", dir.string());
  if (kind == "ids") throw std::invalid_argument(dir.string() + ": trained on token ids; it has no tokenizer");
  InferenceModel out;
  out.tokenizer = restore_tokenizer(kind, metadata_value(checkpoint.metadata, "tokenizer.vocabulary", dir.string()));
  const layers::LlamaConfig model_config = llama_config(
      config.model().llama(), output_vocabulary(config.model().llama(), kind, *out.tokenizer), config.trainer().seed());
  // A LoRA run: its base with the adapters applied, unmerged, as they trained.
  out.model = is_lora_run(config)
                  ? build_lora_model(config, model_config,
                                     output_token_strings(config.model().llama(), kind, *out.tokenizer))
                  : std::make_shared<layers::LlamaForCausalLM>(model_config);
  apply_quantization(*out.model, config);
  out.model->eval();
  load_run_weights(*out.model, config, checkpoint, dir.string());
  return out;
}

std::vector<std::vector<double>> next_token_probabilities(layers::LlamaForCausalLM& model,
                                                          std::span<const int64_t> tokens) {
  const int64_t vocab = model.config().vocab_size;
  const auto length = static_cast<int64_t>(tokens.size());
  if (length == 0) throw std::invalid_argument("next_token_probabilities: no tokens");
  if (length > model.config().max_position_embeddings)
    throw std::invalid_argument("next_token_probabilities: " + std::to_string(length) + " tokens exceed the context of " +
                                std::to_string(model.config().max_position_embeddings));
  for (int64_t i = 0; i < length; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab)
      throw std::invalid_argument("next_token_probabilities: token id " + std::to_string(tokens[i]) + " at position " +
                                  std::to_string(i) + " is outside the vocabulary of " + std::to_string(vocab));
  }
  ag::NoGradGuard no_grad;
  const ag::IndexTensor ids(ag::Shape{1, length}, std::vector<int64_t>(tokens.begin(), tokens.end()));
  const ag::Tensor logits = model.forward(ids).data();
  std::vector<std::vector<double>> rows(length, std::vector<double>(vocab));
  for (int64_t t = 0; t < length; ++t) {
    const float* row = logits.data() + t * vocab;
    const double max_logit = *std::max_element(row, row + vocab);
    double total = 0.0;
    for (int64_t v = 0; v < vocab; ++v) total += rows[t][v] = std::exp(static_cast<double>(row[v]) - max_logit);
    for (double& p : rows[t]) p /= total;
  }
  return rows;
}

std::vector<int64_t> generate_tokens(layers::LlamaForCausalLM& model, std::vector<int64_t> ids,
                                     const GenerateOptions& options) {
  if (ids.empty()) throw std::invalid_argument("generate: the prompt is empty");
  const int64_t context = model.config().max_position_embeddings;
  std::mt19937_64 rng(options.seed);
  ag::NoGradGuard no_grad;
  for (int64_t n = 0; n < options.max_new_tokens; ++n) {
    const int64_t start = std::max<int64_t>(0, static_cast<int64_t>(ids.size()) - context);
    const int64_t length = static_cast<int64_t>(ids.size()) - start;
    const ag::IndexTensor window(ag::Shape{1, length}, std::vector<int64_t>(ids.begin() + start, ids.end()));
    const ag::Tensor logits = model.forward(window).data();
    const int64_t vocab = logits.dim(-1);
    const int64_t candidates = options.vocabulary_limit > 0 ? std::min(options.vocabulary_limit, vocab) : vocab;
    ids.push_back(sample_token(logits.data() + (length - 1) * vocab, candidates, options, rng));
  }
  return ids;
}

}  // namespace qforge::trainers
