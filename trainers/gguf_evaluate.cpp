#include "trainers/gguf_evaluate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "exporters/gguf/llama_gguf_import.h"
#include "trainers/run_folder.h"
#include "trainers/task_factory.h"

namespace qforge::trainers {
namespace {

// The first `rows` rows of a [n, dim] tensor.
autograd::Tensor first_rows(const autograd::Tensor& t, int64_t rows) {
  autograd::Tensor out(autograd::Shape{rows, t.dim(1)});
  std::copy(t.data(), t.data() + out.numel(), out.data());
  return out;
}

}  // namespace

RunResult evaluate_gguf(const std::filesystem::path& dir, const std::filesystem::path& gguf) {
  const RunFolder run = open_run_folder(dir);
  config::RunConfig config = run.config;
  if (!config.model().has_llama()) throw std::invalid_argument(dir.string() + ": not a language-model run");
  config.clear_quantization();
  std::unique_ptr<Task> task = make_task(config);
  const exporters::gguf::ImportedLlama imported = exporters::gguf::read_llama_gguf(gguf);
  std::map<std::string, autograd::Tensor> file_weights;
  for (const auto& [name, param] : imported.model->named_parameters()) file_weights[name] = param.data();
  std::map<std::string, autograd::Tensor> weights;
  for (const auto& [name, param] : task->model().named_parameters()) {
    const auto it = file_weights.find(name);
    if (it == file_weights.end()) throw std::invalid_argument(gguf.string() + ": no tensor for the run's parameter '" + name + "'");
    const bool vocabulary_rows = param.ndim() == 2 && it->second.ndim() == 2 && it->second.dim(0) > param.dim(0) &&
                                 (name == "model.embed_tokens.weight" || name == "lm_head.weight");
    weights[name] = vocabulary_rows ? first_rows(it->second, param.dim(0)) : it->second;
  }
  task->model().load_state_dict(weights);  // checks the shapes, naming the parameter
  const Evaluation e = task->evaluate(config.trainer().eval_batches());
  RunResult result;
  result.step = run.checkpoint.step;
  result.train_loss = NAN;
  result.val_loss = e.loss;
  return result;
}

}  // namespace qforge::trainers
