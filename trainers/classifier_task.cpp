#include "trainers/classifier_task.h"

#include <stdexcept>

#include "autograd/ops.h"
#include "layers/conv2d.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/mlp.h"

namespace qforge::trainers {

namespace ag = qforge::autograd;

namespace {

constexpr int64_t kImagePixels = 28 * 28;

layers::Activation activation_named(const std::string& name) {
  if (name.empty()) return layers::Activation::kReLU;
  return layers::activation_from_name(name);
}

// Per entry of `channels`: 3x3 conv (padding 1) + ReLU + 2x2 max-pool; then the fully connected
// `hidden` widths with ReLU and the 10-way classifier.
std::shared_ptr<layers::UnaryModule> make_cnn(const config::CnnConfig& cnn, uint64_t seed) {
  if (cnn.channels().empty()) throw std::invalid_argument("model.cnn.channels: at least one conv layer");
  auto net = std::make_shared<layers::Sequential>();
  int64_t channels = 1, side = 28;
  uint64_t stream = 0;
  for (int out : cnn.channels()) {
    if (side < 2) throw std::invalid_argument("model.cnn.channels: too many 2x2 pools for 28x28 images");
    net->push_back(std::make_shared<layers::Conv2d>(channels, out, 3, 1, 1, true, layers::derive_seed(seed, stream++)));
    net->push_back(layers::make_activation(layers::Activation::kReLU));
    net->push_back(std::make_shared<layers::MaxPool2d>(2));
    channels = out;
    side /= 2;
  }
  net->push_back(std::make_shared<layers::Flatten>());
  int64_t width = channels * side * side;
  for (int hidden : cnn.hidden()) {
    net->push_back(std::make_shared<layers::Linear>(width, hidden, true, layers::derive_seed(seed, stream++)));
    net->push_back(layers::make_activation(layers::Activation::kReLU));
    width = hidden;
  }
  net->push_back(std::make_shared<layers::Linear>(width, data::kFashionMnistClasses, true, layers::derive_seed(seed, stream)));
  return net;
}

}  // namespace

std::shared_ptr<layers::UnaryModule> make_classifier(const config::ModelConfig& model, uint64_t seed) {
  if (model.has_mlp()) {
    std::vector<int64_t> sizes{kImagePixels};
    for (int width : model.mlp().hidden()) sizes.push_back(width);
    sizes.push_back(data::kFashionMnistClasses);
    return std::make_shared<layers::MLP>(sizes, activation_named(model.mlp().activation()), true, seed);
  }
  if (model.has_cnn()) return make_cnn(model.cnn(), seed);
  throw std::invalid_argument("model: image classification needs model.mlp or model.cnn");
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

namespace {
// Images [first, first + rows) of `batch`.
data::ImageBatch batch_rows(const data::ImageBatch& batch, int64_t first, int64_t rows) {
  if (first == 0 && rows >= batch.labels.numel()) return batch;
  ag::Shape shape = batch.images.shape();
  const int64_t per_image = batch.images.numel() / shape[0];
  shape[0] = rows;
  data::ImageBatch part{ag::Tensor(shape), {}};
  const float* begin = batch.images.data() + first * per_image;
  std::copy(begin, begin + rows * per_image, part.images.data());
  part.labels = ag::IndexTensor(ag::Shape{rows}, std::vector<int64_t>(batch.labels.data() + first,
                                                                      batch.labels.data() + first + rows));
  return part;
}
}  // namespace

ag::Variable ClassifierTask::training_loss(int64_t step) {
  const int64_t per_epoch = batches_->num_batches();
  const data::ImageBatch full = batches_->batch(step / per_epoch, step % per_epoch);
  // The last batch of an epoch may be short; its rows must still split evenly (trainers/data_parallel.cpp).
  const auto [first, rows] = shard_rows(full.labels.numel());
  const data::ImageBatch batch = batch_rows(full, first, rows);
  return ag::cross_entropy(logits(batch.images), batch.labels);
}

ag::Variable ClassifierTask::calibration_loss(int64_t batch, int64_t rows) {
  const int64_t per_epoch = batches_->num_batches();
  const data::ImageBatch part = batch_rows(batches_->batch(batch / per_epoch, batch % per_epoch), 0, rows);
  return ag::cross_entropy(logits(part.images), part.labels);
}

Evaluation ClassifierTask::evaluate(int64_t max_batches) {
  ag::NoGradGuard no_grad;
  const bool was_training = model_->is_training();
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
  model_->train(was_training);
  return {loss_sum / static_cast<double>(seen), static_cast<double>(correct) / static_cast<double>(seen)};
}

int64_t ClassifierTask::default_steps(const config::TrainerConfig& trainer) const {
  return std::max<int64_t>(1, trainer.epochs()) * batches_->num_batches();
}

}  // namespace qforge::trainers
