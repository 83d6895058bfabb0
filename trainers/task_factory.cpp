#include "trainers/task_factory.h"

#include <stdexcept>

#include "trainers/classifier_task.h"
#include "trainers/language_model_task.h"
#include "trainers/quantization_setup.h"

namespace qforge::trainers {

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

}  // namespace qforge::trainers
