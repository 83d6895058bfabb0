#include "trainers/gguf_evaluate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/hf/hf_model_reader.h"
#include "layers/rope_frequencies.h"
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

// The run's float architecture (its quantization config dropped: the file's weights are what is
// evaluated) with `file_model`'s weights, evaluated like evaluate(). Vocabulary rows beyond the run's
// are dropped (a GGUF's reserved tokens); with `strict`, a parameter of the file the run lacks
// (an HF folder's biases) is an error too.
RunResult evaluate_weights(const std::filesystem::path& dir, const layers::LlamaForCausalLM& file_model,
                           const std::string& file, bool strict) {
  const RunFolder run = open_run_folder(dir);
  config::RunConfig config = run.config;
  if (!config.model().has_llama()) throw std::invalid_argument(dir.string() + ": not a language-model run");
  config.clear_quantization();
  std::unique_ptr<Task> task = make_task(config);
  // The file's weights in the run's graph: only right when both rotate alike (a GGUF's rope scaling,
  // docs/gguf.md §15; the run's from model.llama). llama3 in a config.json and the float32 factors its GGUF
  // export wrote differ by rounding, which kRopeFactorsTolerance allows.
  const auto* run_model = dynamic_cast<const layers::LlamaForCausalLM*>(&task->model());
  if (run_model == nullptr) throw std::logic_error(dir.string() + ": the run's model is not a Llama");
  if (const double d = layers::rope_frequency_difference(run_model->config(), file_model.config()); d > layers::kRopeFactorsTolerance)
    throw std::invalid_argument(file + ": its rope frequencies differ from the run's model's by " + std::to_string(d) +
                                " relative (rope_theta or rope scaling; docs/gguf.md §15)");
  std::map<std::string, autograd::Tensor> file_weights;
  for (const auto& [name, param] : file_model.named_parameters()) file_weights[name] = param.data();
  std::map<std::string, autograd::Tensor> weights;
  for (const auto& [name, param] : task->model().named_parameters()) {
    const auto it = file_weights.find(name);
    if (it == file_weights.end()) throw std::invalid_argument(file + ": no tensor for the run's parameter '" + name + "'");
    const bool vocabulary_rows = param.ndim() == 2 && it->second.ndim() == 2 && it->second.dim(0) > param.dim(0) &&
                                 (name == "model.embed_tokens.weight" || name == "lm_head.weight");
    weights[name] = vocabulary_rows ? first_rows(it->second, param.dim(0)) : it->second;
  }
  if (strict)
    for (const auto& [name, value] : file_weights)
      if (weights.count(name) == 0)
        throw std::invalid_argument(file + ": tensor '" + name + "' has no parameter in the run's model (" + dir.string() + ")");
  task->model().load_state_dict(weights);  // checks the shapes, naming the parameter
  const Evaluation e = task->evaluate(config.trainer().eval_batches());
  RunResult result;
  result.step = run.checkpoint.step;
  result.train_loss = NAN;
  result.val_loss = e.loss;
  return result;
}

}  // namespace

RunResult evaluate_gguf(const std::filesystem::path& dir, const std::filesystem::path& gguf) {
  const exporters::gguf::ImportedLlama imported = exporters::gguf::read_llama_gguf(gguf);
  return evaluate_weights(dir, *imported.model, gguf.string(), false);
}

RunResult evaluate_hf(const std::filesystem::path& dir, const std::filesystem::path& hf_dir) {
  const exporters::hf::HfModel imported = exporters::hf::read_hf_model(hf_dir);
  return evaluate_weights(dir, *imported.model, hf_dir.string(), true);
}

}  // namespace qforge::trainers
