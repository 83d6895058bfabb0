#pragma once
// 2-D convolution layer (torch.nn.Conv2d layout and initialisation) and pooling modules.
#include <cstdint>

#include "layers/module.h"
#include "layers/quantizable.h"

namespace qforge::layers {

/// y = conv2d(x, W) + b on NCHW. Parameters "weight" [out, in, k, k] and, when `bias`, "bias" [out].
class Conv2d : public UnaryModule, public Quantizable {
 public:
  /// Weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * k * k, as PyTorch.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, uint64_t seed = 0);
  /// x [n, in, h, w] -> [n, out, h', w'].
  Variable forward(const Variable& x) override;
  const Variable& weight() const { return weight_; }
  const Variable& bias() const { return bias_; }
  const Variable& quantizable_weight() const override { return weight_; }

 protected:
  Module& owner() override { return *this; }

 private:
  int64_t stride_, padding_;
  Variable weight_, bias_;
};

/// Max pooling over kernel x kernel windows (stride = kernel), no parameters.
class MaxPool2d : public UnaryModule {
 public:
  explicit MaxPool2d(int64_t kernel) : kernel_(kernel) {}
  Variable forward(const Variable& x) override;

 private:
  int64_t kernel_;
};

/// [n, ...] -> [n, prod(...)], so convolutional features feed Linear layers.
class Flatten : public UnaryModule {
 public:
  Variable forward(const Variable& x) override;
};

/// Children applied in order, named "0", "1", ... like torch.nn.Sequential.
class Sequential : public UnaryModule {
 public:
  void push_back(std::shared_ptr<UnaryModule> module);
  Variable forward(const Variable& x) override;
  size_t size() const { return modules_.size(); }

 private:
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

}  // namespace qforge::layers
