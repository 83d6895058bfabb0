// Quick timing of one training step (forward, backward, SGD update) of a small Fashion-MNIST CNN:
// conv 1->32 3x3 pad 1, relu, max-pool 2, conv 32->64 3x3 pad 1, relu, max-pool 2, linear
// 3136->10, cross-entropy, on a batch of 64 28x28 images. bench/cnn_step.py times the same
// network in PyTorch. Run both with OMP_NUM_THREADS=2; prints the best mean step time in ms.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "autograd/ops.h"

namespace ag = qforge::autograd;
using ag::Shape;
using ag::Tensor;
using ag::Variable;

int main() {
  constexpr int64_t kBatch = 64;
  const Variable images(Tensor::randn({kBatch, 1, 28, 28}, 1));
  std::vector<int64_t> labels(kBatch);
  for (int64_t i = 0; i < kBatch; ++i) labels[i] = (i * 7) % 10;
  const ag::IndexTensor targets(Shape{kBatch}, labels);
  // Kaiming-normal scales, as torch's default init gives the same order of magnitude.
  std::vector<Variable> params = {Variable(Tensor::randn({32, 1, 3, 3}, 2, std::sqrt(2.0f / 9)), true),
                                  Variable(Tensor::zeros({32}), true),
                                  Variable(Tensor::randn({64, 32, 3, 3}, 3, std::sqrt(2.0f / 288)), true),
                                  Variable(Tensor::zeros({64}), true),
                                  Variable(Tensor::randn({10, 64 * 7 * 7}, 4, std::sqrt(1.0f / 3136)), true),
                                  Variable(Tensor::zeros({10}), true)};
  auto step = [&] {
    Variable h = ag::max_pool2d(ag::relu(ag::conv2d(images, params[0], params[1], 1, 1)), 2);
    h = ag::max_pool2d(ag::relu(ag::conv2d(h, params[2], params[3], 1, 1)), 2);
    Variable logits = ag::matmul(ag::reshape(h, {kBatch, -1}), params[4], false, true) + params[5];
    Variable loss = ag::cross_entropy(logits, targets);
    for (Variable& p : params) p.zero_grad();
    loss.backward();
    for (Variable& p : params) {
      float* w = p.mutable_data().data();
      const float* g = p.grad().data();
      for (int64_t i = 0; i < p.numel(); ++i) w[i] -= 0.01f * g[i];
    }
    return loss.item();
  };
  for (int i = 0; i < 5; ++i) step();
  double best = 1e9;
  for (int round = 0; round < 7; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) step();
    const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count() / 20);
  }
  std::printf("qforge cnn step: %.2f ms (best mean of 7 x 20 steps)\n", best);
}
