#include "trainers/post_training_quantization.h"

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "autograd/variable.h"
#include "fakequant/qat.h"
#include "trainers/checkpoint.h"
#include "trainers/quantization_setup.h"
#include "trainers/task.h"

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

namespace {

// Activation observers watch `batches` training batches with the model in eval mode (no dropout),
// only the quantizers in training mode, so they observe.
void calibrate_activations(Task& task, int batches) {
  auto quantizers = fakequant::quantizers_of(task.model());
  bool any = false;
  for (auto& [name, q] : quantizers) {
    if (q->role() == fakequant::QuantizerRole::kActivation && !q->spec().dynamic_per_token) q->train(), any = true;
  }
  if (any) {
    autograd::NoGradGuard no_grad;
    for (int b = 0; b < batches; ++b) task.training_loss(b);
  }
  for (auto& [name, q] : quantizers) q->freeze(), q->eval();
}

}  // namespace

RunResult post_training_quantize(const PtqOptions& options) {
  const Checkpoint source = load_checkpoint(options.float_run);
  config::RunConfig config = parse_run_config(source.config_text, (options.float_run / kCheckpointFile).string());
  if (config.quantization().rules_size() > 0 || !config.quantization().preset().empty()) {
    throw std::invalid_argument(options.float_run.string() + " is already a quantized run; quantize its float run instead");
  }
  *config.mutable_quantization() = options.quantization;
  config.mutable_quantization()->clear_init_from();
  std::unique_ptr<Task> task = make_task(config);
  task->load_state(source.metadata);
  load_float_weights(task->model(), options.float_run);
  task->model().eval();
  fakequant::calibrate_weights(task->model());
  calibrate_activations(*task, options.calibration_batches > 0 ? options.calibration_batches : 16);
  const Evaluation e = task->evaluate(config.trainer().eval_batches());

  Checkpoint out;
  out.step = source.step;
  out.config_text = to_text(config);
  const layers::StateDict state = task->model().state_dict();
  for (const auto& [name, t] : state) out.model.emplace_back(name, t);
  out.buffers.assign(state.buffers.begin(), state.buffers.end());
  out.metadata = source.metadata;
  save_checkpoint(options.output_dir, out);
  std::ofstream(options.output_dir / "config.pbtxt") << out.config_text;

  RunResult result;
  result.step = source.step;
  const double sum = std::stod(find_value(source.metadata, "last_window.sum", options.float_run.string()));
  const double count = std::stod(find_value(source.metadata, "last_window.count", options.float_run.string()));
  result.train_loss = count > 0 ? sum / count : 0.0;
  result.val_loss = e.loss;
  result.val_accuracy = e.accuracy;
  return result;
}

}  // namespace qforge::trainers
