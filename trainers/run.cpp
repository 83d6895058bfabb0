// Task selection, final report line, evaluation of a checkpoint and text generation.
#include "trainers/run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "autograd/ops.h"
#include "trainers/checkpoint.h"
#include "trainers/classifier_task.h"
#include "trainers/language_model_inference.h"
#include "trainers/gguf_qat.h"
#include "trainers/language_model_task.h"
#include "trainers/lora_model.h"
#include "trainers/quantization_setup.h"

namespace qforge::trainers {

namespace ag = qforge::autograd;

const std::string& find_value(const StringPairs& pairs, const std::string& key, const std::string& what) {
  for (const auto& [k, v] : pairs)
    if (k == key) return v;
  throw std::runtime_error(what + ": missing '" + key + "'");
}

std::unique_ptr<Task> make_task(const config::RunConfig& config) {
  if (config.model().has_llama()) {
    if (!config.data().has_text()) throw std::invalid_argument("data: model.llama trains on data.text");
    auto task = std::make_unique<LanguageModelTask>(config);
    apply_quantization(task->model(), config);
    return task;
  }
  if (config.model().has_mlp() || config.model().has_cnn()) {
    if (!config.data().has_fashion_mnist()) throw std::invalid_argument("data: image classifiers train on data.fashion_mnist");
    auto task = std::make_unique<ClassifierTask>(config);
    apply_quantization(task->model(), config);
    return task;
  }
  throw std::invalid_argument("model: the config names no model (set model.mlp, model.cnn or model.llama)");
}

std::string final_line(const RunResult& r) {
  char text[200];
  std::snprintf(text, sizeof text, "final: step=%lld train_loss=%.4f val_loss=%.4f", static_cast<long long>(r.step),
                r.train_loss, r.val_loss);
  std::string line = text;
  if (r.val_accuracy) {
    std::snprintf(text, sizeof text, " val_accuracy=%.4f", *r.val_accuracy);
    line += text;
  }
  return line;
}

namespace {

struct Restored {
  config::RunConfig config;
  Checkpoint checkpoint;
  std::string source;  // the checkpoint file, for errors
};

Restored restore(const std::filesystem::path& dir) {
  Restored r{config::RunConfig(), load_checkpoint(dir), (dir / kCheckpointFile).string()};
  r.config = parse_run_config(r.checkpoint.config_text, r.source);
  return r;
}

// The trained model with its quantizers, reduced to a plain Llama as run.h LanguageModelExport says.
LanguageModelExport exported_weights(const Restored& r, const layers::LlamaConfig& model_config,
                                     const std::vector<std::string>& output_tokens) {
  if (is_lora_run(r.config)) {
    // Merge: W + scale * B A in FP32 for every adapted projection (a packed base dequantized first).
    std::shared_ptr<layers::LlamaForCausalLM> lora = build_lora_model(r.config, model_config, output_tokens);
    load_run_weights(*lora, r.config, r.checkpoint, r.config.lora().base());
    merge_lora_adapters(*lora);
    LanguageModelExport out;
    out.model = std::make_shared<layers::LlamaForCausalLM>(model_config);
    out.model->load_state_dict(lora->state_dict());
    out.notes.push_back("LoRA adapters merged into the base (" + r.config.lora().base() + ")");
    return out;
  }
  layers::LlamaForCausalLM trained(model_config);
  apply_quantization(trained, r.config);
  load_run_weights(trained, r.config, r.checkpoint, r.source);
  trained.eval();
  std::map<std::string, ag::Tensor> weights;
  for (const auto& [name, param] : trained.named_parameters()) {
    if (!is_quantizer_parameter(name)) weights[name] = param.data();
  }
  LanguageModelExport out;
  out.ggml_types = trained_ggml_types(trained);
  out.preset = r.config.quantization().preset();
  ag::NoGradGuard no_grad;
  for (const auto& [name, quantizer] : fakequant::quantizers_of(trained)) {
    if (quantizer->role() == fakequant::QuantizerRole::kActivation) {
      out.notes.push_back(name + " (" + quantizer->spec().describe() + ") is not exported: GGUF stores no activation quantization");
      continue;
    }
    if (quantizer->spec().is_ggml_block()) continue;  // latent weight + ggml_types
    const std::string weight = name.substr(0, name.rfind("_quantizer"));  // "<layer>.weight"
    weights[weight] = quantizer->forward(ag::Variable(weights.at(weight))).data();
    out.notes.push_back(weight + " (" + quantizer->spec().describe() + ") is exported as its fake-quantized values");
  }
  out.model = std::make_shared<layers::LlamaForCausalLM>(model_config);
  out.model->load_state_dict(weights);
  return out;
}

}  // namespace

RunResult evaluate(const std::filesystem::path& dir) {
  const Restored r = restore(dir);
  std::unique_ptr<Task> task = make_task(r.config);
  load_run_weights(task->model(), r.config, r.checkpoint, dir.string());
  const Evaluation e = task->evaluate(r.config.trainer().eval_batches());
  RunResult result;
  result.step = r.checkpoint.step;
  const double sum = std::stod(find_value(r.checkpoint.metadata, "last_window.sum", dir.string()));
  const double count = std::stod(find_value(r.checkpoint.metadata, "last_window.count", dir.string()));
  result.train_loss = count > 0 ? sum / count : NAN;
  result.val_loss = e.loss;
  result.val_accuracy = e.accuracy;
  return result;
}

std::string generate(const std::filesystem::path& dir, const GenerateOptions& options) {
  InferenceModel restored = restore_inference_model(dir);
  const data::TokenIds prompt = restored.tokenizer->encode(options.prompt);
  GenerateOptions limited = options;  // reserved GGUF tokens (if any) are not the tokenizer's to decode
  limited.vocabulary_limit = restored.tokenizer->vocab_size();
  const std::vector<int64_t> ids = generate_tokens(*restored.model, {prompt.begin(), prompt.end()}, limited);
  return restored.tokenizer->decode(data::TokenIds(ids.begin(), ids.end()));
}

LanguageModelExport restore_language_model(const std::filesystem::path& dir) {
  const Restored r = restore(dir);
  if (!r.config.model().has_llama()) throw std::invalid_argument(dir.string() + ": not a language-model run");
  const std::string& kind = find_value(r.checkpoint.metadata, "tokenizer", dir.string());
  if (kind == "ids") throw std::invalid_argument(dir.string() + ": trained on token ids; it has no token strings to export");
  const auto tokenizer = restore_tokenizer(kind, find_value(r.checkpoint.metadata, "tokenizer.vocabulary", dir.string()));
  const layers::LlamaConfig model_config =
      llama_config(r.config.model().llama(), output_vocabulary(r.config.model().llama(), kind, *tokenizer),
                   r.config.trainer().seed());
  LanguageModelExport out =
      exported_weights(r, model_config, output_token_strings(r.config.model().llama(), kind, *tokenizer));
  out.vocabulary = output_token_strings(r.config.model().llama(), kind, *tokenizer);
  if (!r.config.model().llama().reserve_gguf_tokens())
    out.notes.push_back("the model was trained without model.llama.reserve_gguf_tokens: the control and byte tokens the "
                        "GGUF vocabulary needs get zero output rows (logit 0) and take probability mass in llama.cpp");
  return out;
}

}  // namespace qforge::trainers
