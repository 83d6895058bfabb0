// Evaluation of a checkpoint, the final report line and text generation (run.h).
#include "trainers/run.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "trainers/lora_model.h"
#include "trainers/task_factory.h"

namespace qforge::trainers {

std::string final_line(const RunResult& r) {
  char text[200];
  std::snprintf(text, sizeof text, "final: step=%lld train_loss=%.4f val_loss=%.6f", static_cast<long long>(r.step),
                r.train_loss, r.val_loss);
  std::string line = text;
  if (r.val_accuracy) {
    std::snprintf(text, sizeof text, " val_accuracy=%.4f", *r.val_accuracy);
    line += text;
  }
  return line;
}

double last_window_loss(const RunFolder& run) {
  const double sum = std::stod(run.metadata("last_window.sum"));
  const double count = std::stod(run.metadata("last_window.count"));
  return count > 0 ? sum / count : NAN;
}

RunResult evaluate(const std::filesystem::path& dir) {
  const RunFolder run = open_run_folder(dir);
  std::unique_ptr<Task> task = make_task(run.config);
  load_run_weights(task->model(), run.config, run.checkpoint, dir.string());
  const Evaluation e = task->evaluate(run.config.trainer().eval_batches());
  RunResult result;
  result.step = run.checkpoint.step;
  result.train_loss = last_window_loss(run);
  result.val_loss = e.loss;
  result.val_accuracy = e.accuracy;
  return result;
}

std::string generate(const ModelSource& source, const GenerateOptions& options) {
  const LoadedModel loaded = load_model(source);
  const std::vector<int64_t> prompt = loaded.encode(options.prompt);
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt is empty");
  GenerateOptions limited = options;
  limited.vocabulary_limit = loaded.vocab_size;
  return loaded.decode(generate_tokens(*loaded.model, prompt, limited));
}

}  // namespace qforge::trainers
