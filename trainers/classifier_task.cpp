#include "trainers/classifier_task.h"

#include <stdexcept>

#include "autograd/ops.h"
#include "layers/mlp.h"

namespace qforge::trainers {

namespace ag = qforge::autograd;

namespace {

constexpr int64_t kImagePixels = 28 * 28;

layers::Activation activation_named(const std::string& name) {
  if (name.empty()) return layers::Activation::kReLU;
  return layers::activation_from_name(name);
}

}  // namespace

std::shared_ptr<layers::UnaryModule> make_classifier(const config::ModelConfig& model, uint64_t seed) {
  if (model.has_mlp()) {
    std::vector<int64_t> sizes{kImagePixels};
    for (int width : model.mlp().hidden()) sizes.push_back(width);
    sizes.push_back(data::kFashionMnistClasses);
    return std::make_shared<layers::MLP>(sizes, activation_named(model.mlp().activation()), true, seed);
  }
  throw std::invalid_argument("model: image classification needs model.mlp (model.cnn is not built yet)");
}

ClassifierTask::ClassifierTask(const config::RunConfig& config)
    : batch_size_(config.data().batch_size() > 0 ? config.data().batch_size() : 64) {
  const std::string dir =
      config.data().fashion_mnist().dir().empty() ? data::kFashionMnistDirectory : config.data().fashion_mnist().dir();
  data::ImageDatasetOptions options;
  options.layout = config.model().has_cnn() ? data::ImageLayout::kNchw : data::ImageLayout::kFlat;
  options.normalize = true;
  train_ = data::load_fashion_mnist(data::Split::kTrain, options, dir);
  test_ = data::load_fashion_mnist(data::Split::kTest, options, dir);
  data::BatchOptions batching;
  batching.batch_size = batch_size_;
  batching.seed = config.trainer().seed();
  batches_ = std::make_unique<data::ImageBatches>(train_, batching);
  model_ = make_classifier(config.model(), config.trainer().seed());
}

ag::Variable ClassifierTask::logits(const ag::Tensor& images) { return model_->forward(ag::Variable(images)); }

ag::Variable ClassifierTask::training_loss(int64_t step) {
  const int64_t per_epoch = batches_->num_batches();
  const data::ImageBatch batch = batches_->batch(step / per_epoch, step % per_epoch);
  return ag::cross_entropy(logits(batch.images), batch.labels);
}

Evaluation ClassifierTask::evaluate(int64_t max_batches) {
  ag::NoGradGuard no_grad;
  model_->eval();
  constexpr int64_t kEvalBatch = 1000;
  const int64_t n = test_.size();
  int64_t limit = (n + kEvalBatch - 1) / kEvalBatch;
  if (max_batches > 0) limit = std::min(limit, max_batches);
  double loss_sum = 0.0;
  int64_t correct = 0, seen = 0;
  for (int64_t b = 0; b < limit; ++b) {
    std::vector<int64_t> indices;
    for (int64_t i = b * kEvalBatch; i < std::min(n, (b + 1) * kEvalBatch); ++i) indices.push_back(i);
    const data::ImageBatch batch = data::gather_batch(test_, indices);
    const ag::Variable out = logits(batch.images);
    const int64_t rows = batch.labels.numel(), classes = out.dim(-1);
    loss_sum += ag::cross_entropy(out, batch.labels).item() * static_cast<double>(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = out.data().data() + r * classes;
      correct += (std::max_element(row, row + classes) - row) == batch.labels.data()[r];
    }
    seen += rows;
  }
  model_->train();
  return {loss_sum / static_cast<double>(seen), static_cast<double>(correct) / static_cast<double>(seen)};
}

int64_t ClassifierTask::default_steps(const config::TrainerConfig& trainer) const {
  return std::max<int64_t>(1, trainer.epochs()) * batches_->num_batches();
}

}  // namespace qforge::trainers
