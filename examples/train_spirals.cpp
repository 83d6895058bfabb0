// `make demo` for now: a two-layer MLP learns three interleaved spirals with the autograd engine
// and plain SGD with momentum, printing the loss as it falls and the final training accuracy.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "autograd/ops.h"

namespace ag = qforge::autograd;
using ag::Shape;
using ag::Tensor;
using ag::Variable;

namespace {

constexpr int64_t kPointsPerClass = 200, kClasses = 3, kHidden = 64;

// Three arms of a spiral (the classic CS231n toy set): not linearly separable.
void make_spirals(Tensor& points, std::vector<int64_t>& labels) {
  std::mt19937 generator(7);
  std::normal_distribution<float> noise(0.0f, 0.2f);
  points = Tensor({kPointsPerClass * kClasses, 2});
  labels.resize(kPointsPerClass * kClasses);
  for (int64_t c = 0; c < kClasses; ++c) {
    for (int64_t i = 0; i < kPointsPerClass; ++i) {
      const int64_t row = c * kPointsPerClass + i;
      const float radius = static_cast<float>(i) / kPointsPerClass;
      const float angle = static_cast<float>(c) * 4.0f + radius * 4.0f + noise(generator);
      points.data()[row * 2] = radius * std::sin(angle);
      points.data()[row * 2 + 1] = radius * std::cos(angle);
      labels[row] = c;
    }
  }
}

}  // namespace

int main() {
  Tensor points;
  std::vector<int64_t> labels;
  make_spirals(points, labels);
  const Variable x(points);
  const ag::IndexTensor targets(Shape{static_cast<int64_t>(labels.size())}, labels);

  // Kaiming-style initial scales keep the first logits of order one.
  std::vector<Variable> params = {Variable(Tensor::randn({2, kHidden}, 1, 1.0f), true),
                                  Variable(Tensor::zeros({kHidden}), true),
                                  Variable(Tensor::randn({kHidden, kClasses}, 2, std::sqrt(2.0f / kHidden)), true),
                                  Variable(Tensor::zeros({kClasses}), true)};
  std::vector<Tensor> velocity;
  for (const Variable& p : params) velocity.push_back(Tensor::zeros(p.shape()));

  const float learning_rate = 0.5f, momentum = 0.9f;
  float first_loss = 0.0f, loss_value = 0.0f;
  for (int step = 0; step <= 600; ++step) {
    Variable hidden = ag::relu(ag::matmul(x, params[0]) + params[1]);
    Variable logits = ag::matmul(hidden, params[2]) + params[3];
    Variable loss = ag::cross_entropy(logits, targets);
    for (Variable& p : params) p.zero_grad();
    loss.backward();
    loss_value = loss.item();
    if (step == 0) first_loss = loss_value;
    if (step % 100 == 0) std::printf("step %4d  loss %.4f\n", step, loss_value);
    ag::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      float* v = velocity[i].data();
      float* w = params[i].mutable_data().data();
      const float* g = params[i].grad().data();
      for (int64_t j = 0; j < params[i].numel(); ++j) {
        v[j] = momentum * v[j] + g[j];
        w[j] -= learning_rate * v[j];
      }
    }
  }

  ag::NoGradGuard no_grad;
  const Tensor logits = (ag::matmul(ag::relu(ag::matmul(x, params[0]) + params[1]), params[2]) + params[3]).data();
  int64_t correct = 0;
  for (int64_t row = 0; row < logits.dim(0); ++row) {
    const float* r = logits.data() + row * kClasses;
    correct += (std::max_element(r, r + kClasses) - r) == labels[row];
  }
  const double accuracy = static_cast<double>(correct) / static_cast<double>(labels.size());
  std::printf("loss %.4f -> %.4f, training accuracy %.1f%%\n", first_loss, loss_value, 100.0 * accuracy);
  return loss_value < first_loss * 0.5f ? 0 : 1;
}
