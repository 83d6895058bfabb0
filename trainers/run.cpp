// Evaluation of a checkpoint, the final report line and text generation (run.h).
#include "trainers/run.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "trainers/gguf_qat.h"
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
  apply_run_importance(task->model(), run.config.quantization().imatrix(), dir);
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
  const std::vector<int64_t> prompt = options.prompt_tokens.empty() ? loaded.encode(options.prompt) : options.prompt_tokens;
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt is empty");
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= loaded.vocab_size)
      throw std::invalid_argument("generate: prompt token " + std::to_string(prompt[i]) + " at position " +
                                  std::to_string(i) + " is outside the vocabulary of " + std::to_string(loaded.vocab_size));
  GenerateOptions limited = options;
  limited.vocabulary_limit = loaded.vocab_size;
  const std::vector<int64_t> ids = generate_tokens(*loaded.model, prompt, limited);
  if (loaded.decode) return loaded.decode(ids);
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(ids[i]);
  }
  return text;
}

}  // namespace qforge::trainers
