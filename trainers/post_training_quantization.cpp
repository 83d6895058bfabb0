#include "trainers/post_training_quantization.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <cstdio>
#include <stdexcept>

#include "autograd/allocator.h"
#include "io/atomic_file.h"
#include "ptq/method.h"
#include "trainers/language_model_task.h"
#include "trainers/quantization_setup.h"
#include "trainers/run_folder.h"
#include "trainers/task_factory.h"

namespace qforge::trainers {

config::QuantizationConfig scheme_rules(const std::string& weight_scheme, const config::QuantizerConfig* input,
                                        const std::vector<std::string>& keep_float) {
  config::QuantizationConfig quantization;
  for (const std::string& pattern : keep_float) {
    config::QuantRule* rule = quantization.add_rules();
    rule->set_pattern(pattern);
    rule->set_skip(true);
  }
  config::QuantRule* rule = quantization.add_rules();
  rule->set_pattern("*");
  if (!weight_scheme.empty()) rule->mutable_weight()->set_scheme(weight_scheme);
  if (input != nullptr) *rule->mutable_input() = *input;
  return quantization;
}

void apply_method_input_scheme(config::QuantizationConfig& quantization, const ptq::MethodChoice& method) {
  if (method.method->input_scheme == nullptr) return;
  const std::string scheme = method.method->input_scheme(method.options);
  for (config::QuantRule& rule : *quantization.mutable_rules()) {
    if (rule.skip()) continue;
    if (!rule.has_input()) rule.mutable_input()->set_scheme(scheme);
    else if (rule.input().scheme() != scheme)
      throw std::invalid_argument("quantize --method " + std::string(method.method->name) + ": its inputs are " + scheme +
                                  "; rule '" + rule.pattern() + "' asks for '" + rule.input().scheme() +
                                  "' (leave the input scheme out)");
  }
}

ptq::MethodChoice method_choice(const config::PtqConfig& ptq) {
  ptq::MethodChoice choice = ptq::parse_method(ptq.method().empty() ? "rtn" : ptq.method());
  choice.options = ptq::ordered_options(*choice.method, ptq::join_options({choice.options, ptq.options()}));
  return choice;
}

namespace {

// Calibration batches of `samples` samples, `per_batch` to a batch, the last one cut short.
ptq::Calibration calibration_of(Task& task, int64_t samples) {
  const int64_t per_batch = task.samples_per_batch();
  auto rows = [per_batch, samples](int64_t batch) { return std::min(per_batch, samples - batch * per_batch); };
  ptq::Calibration calibration;
  calibration.batches = (samples + per_batch - 1) / per_batch;
  calibration.forward = [&task, rows](int64_t batch) { task.calibration_loss(batch, rows(batch)); };
  if (const auto* language_model = dynamic_cast<const LanguageModelTask*>(&task))
    calibration.token_ids = [language_model, rows](int64_t batch) { return language_model->calibration_inputs(batch, rows(batch)); };
  return calibration;
}

}  // namespace

namespace {

// The float model a PTQ starts from: a run folder's config and checkpoint, or a Hugging Face folder's
// weights on options.hf_run's data (its config then records model.llama.hf, LlamaConfig.hf).
struct FloatSource {
  std::optional<RunFolder> run;
  config::RunConfig config;
};

FloatSource open_float_source(const PtqOptions& options) {
  FloatSource source;
  if (options.hf_model.empty()) {
    source.run = open_run_folder(options.float_run);
    source.config = source.run->config;
    const config::QuantizationConfig& q = source.config.quantization();
    if (q.rules_size() > 0 || !q.preset().empty())
      throw std::invalid_argument(options.float_run.string() + " is already a quantized run; quantize its float run instead");
    return source;
  }
  source.config = options.hf_run;
  if (!source.config.model().has_llama() || !source.config.data().has_text())
    throw std::invalid_argument("quantize --hf " + options.hf_model.string() + ": --config must give data.text (text for "
                                "the folder's tokenizer.json, or token ids) and model.llama.max_position_embeddings "
                                "(the calibration context)");
  config::LlamaConfig* llama = source.config.mutable_model()->mutable_llama();
  if (!llama->hf().empty() && llama->hf() != options.hf_model.string())
    throw std::invalid_argument("quantize --hf " + options.hf_model.string() + ": --config's model.llama.hf names " + llama->hf());
  llama->set_hf(options.hf_model.string());
  source.config.clear_lora();
  return source;
}

// The source's weights into the task's model; a run folder's copy is dropped afterwards and its blocks
// handed back to the system (the tensor allocator would otherwise keep them cached), so the method
// starts from one copy.
void load_float_model(Task& task, FloatSource& source, const PtqOptions& options) {
  if (!source.run) return load_init_weights(task.model(), options.hf_model);
  task.load_state(source.run->checkpoint.metadata);
  load_float_weights(task.model(), *source.run);
  source.run->checkpoint.model.clear();
  autograd::release_cached_allocations();
}

// What the quantized run's checkpoint keeps of its source: the step, the data position and the last
// training window (an HF folder has none: step 0, an empty window, the task's fresh state).
void copy_source_state(const FloatSource& source, const Task& task, Checkpoint& out) {
  if (source.run) {
    out.step = source.run->checkpoint.step;
    out.metadata = source.run->checkpoint.metadata;
    return;
  }
  out.metadata = task.save_state();
  out.metadata.emplace_back("last_window.sum", "0");
  out.metadata.emplace_back("last_window.count", "0");
}

}  // namespace

RunResult post_training_quantize(const PtqOptions& options) {
  const ptq::MethodChoice method = method_choice(options.quantization.ptq());
  FloatSource source = open_float_source(options);
  config::RunConfig config = source.config;
  *config.mutable_quantization() = options.quantization;
  config.mutable_quantization()->clear_init_from();
  apply_method_input_scheme(*config.mutable_quantization(), method);
  if (options.calibration_seed) config.mutable_trainer()->set_seed(*options.calibration_seed);
  std::unique_ptr<Task> task = make_task(config);
  load_float_model(*task, source, options);
  task->model().eval();
  const int64_t samples = options.quantization.ptq().calibration_samples() > 0
                              ? options.quantization.ptq().calibration_samples()
                              : task->samples_per_batch() * (options.calibration_batches > 0 ? options.calibration_batches : 16);
  method.method->quantize(task->model(), calibration_of(*task, samples), method.options);
  config::PtqConfig& used = *config.mutable_quantization()->mutable_ptq();
  used.set_method(std::string(method.method->name));
  used.set_options(method.options);
  used.set_calibration_samples(static_cast<int32_t>(samples));
  const Evaluation e = task->evaluate(config.trainer().eval_batches());

  Checkpoint out;
  copy_source_state(source, *task, out);
  out.config_text = to_text(config);
  const layers::StateDict state = task->model().state_dict();
  for (const auto& [name, t] : state) out.model.emplace_back(name, t);
  out.buffers.assign(state.buffers.begin(), state.buffers.end());
  save_checkpoint(options.output_dir, out);
  io::write_file_atomically(options.output_dir / "config.pbtxt", out.config_text);

  RunResult result;
  result.step = out.step;
  const double sum = std::stod(metadata_value(out.metadata, "last_window.sum", options.output_dir.string()));
  const double count = std::stod(metadata_value(out.metadata, "last_window.count", options.output_dir.string()));
  result.train_loss = count > 0 ? sum / count : (source.run ? 0.0 : NAN);  // an HF folder has no training window
  result.val_loss = e.loss;
  result.val_accuracy = e.accuracy;
  if (method.method->bits_per_weight) result.bits_per_weight = method.method->bits_per_weight(task->model(), method.options);
  return result;
}

}  // namespace qforge::trainers
