#include "trainers/post_training_quantization.h"

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

RunResult post_training_quantize(const PtqOptions& options) {
  const ptq::MethodChoice method = ptq::parse_method(options.method);
  RunFolder run = open_run_folder(options.float_run);
  const Checkpoint& source = run.checkpoint;
  config::RunConfig config = run.config;
  if (config.quantization().rules_size() > 0 || !config.quantization().preset().empty()) {
    throw std::invalid_argument(options.float_run.string() + " is already a quantized run; quantize its float run instead");
  }
  *config.mutable_quantization() = options.quantization;
  config.mutable_quantization()->clear_init_from();
  apply_method_input_scheme(*config.mutable_quantization(), method);
  if (options.calibration_seed) config.mutable_trainer()->set_seed(*options.calibration_seed);
  std::unique_ptr<Task> task = make_task(config);
  task->load_state(source.metadata);
  load_float_weights(task->model(), run);
  // The weights live in the model now: drop the checkpoint's copy and hand its blocks back to the system
  // (the tensor allocator would otherwise keep them cached), so the method starts from one copy.
  run.checkpoint.model.clear();
  autograd::release_cached_allocations();
  task->model().eval();
  ptq::Calibration calibration;
  calibration.forward = [&task](int64_t batch) { task->calibration_loss(batch); };
  if (const auto* language_model = dynamic_cast<const LanguageModelTask*>(task.get()))
    calibration.token_ids = [language_model](int64_t batch) { return language_model->calibration_inputs(batch); };
  calibration.batches = options.calibration_batches > 0 ? options.calibration_batches : 16;
  method.method->quantize(task->model(), calibration, method.options);
  const Evaluation e = task->evaluate(config.trainer().eval_batches());

  Checkpoint out;
  out.step = source.step;
  out.config_text = to_text(config);
  const layers::StateDict state = task->model().state_dict();
  for (const auto& [name, t] : state) out.model.emplace_back(name, t);
  out.buffers.assign(state.buffers.begin(), state.buffers.end());
  out.metadata = source.metadata;
  save_checkpoint(options.output_dir, out);
  io::write_file_atomically(options.output_dir / "config.pbtxt", out.config_text);

  RunResult result;
  result.step = source.step;
  const double sum = std::stod(run.metadata("last_window.sum"));
  const double count = std::stod(run.metadata("last_window.count"));
  result.train_loss = count > 0 ? sum / count : 0.0;
  result.val_loss = e.loss;
  result.val_accuracy = e.accuracy;
  if (method.method->bits_per_weight) result.bits_per_weight = method.method->bits_per_weight(task->model(), method.options);
  return result;
}

}  // namespace qforge::trainers
