#include "layers/conv2d.h"

#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "layers/init.h"

namespace qforge::layers {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, bool bias,
               uint64_t seed)
    : stride_(stride), padding_(padding) {
  if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || stride <= 0 || padding < 0) {
    throw std::invalid_argument("Conv2d: channels, kernel and stride must be positive and padding >= 0, got in " +
                                std::to_string(in_channels) + " out " + std::to_string(out_channels) + " kernel " +
                                std::to_string(kernel) + " stride " + std::to_string(stride) + " padding " +
                                std::to_string(padding));
  }
  const int64_t fan_in = in_channels * kernel * kernel;
  weight_ = register_parameter(
      "weight", linear_uniform(Shape{out_channels, in_channels, kernel, kernel}, fan_in, derive_seed(seed, 0)));
  if (bias) bias_ = register_parameter("bias", linear_uniform(Shape{out_channels}, fan_in, derive_seed(seed, 1)));
}

Variable Conv2d::forward(const Variable& x) { return autograd::conv2d(effective_input(x), effective_weight(), bias_, stride_, padding_); }

Variable MaxPool2d::forward(const Variable& x) { return autograd::max_pool2d(x, kernel_); }

Variable Flatten::forward(const Variable& x) {
  if (x.ndim() < 1) throw std::invalid_argument("Flatten: input is a scalar");
  return autograd::reshape(x, {x.dim(0), -1});
}

void Sequential::push_back(std::shared_ptr<UnaryModule> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

Variable Sequential::forward(const Variable& x) {
  Variable y = x;
  for (const auto& m : modules_) y = m->forward(y);
  return y;
}

}  // namespace qforge::layers
