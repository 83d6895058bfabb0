#pragma once
// Hyperparameters of the optimisers, in the style of PyTorch's C++ AdamOptions: each field has
// its default written beside it and a chainable setter, e.g. AdamOptions().lr(3e-4).weight_decay(0.1).
// lr and weight_decay are defaults for parameter groups that do not set their own (param_group.h).

// QFORGE_OPTION(double, lr) = 1e-3;  declares member lr_ with a getter lr() and a setter lr(v)
// that returns *this, so setters chain.
#define QFORGE_OPTION(Type, name)              \
 public:                                       \
  auto& name(Type value) {                     \
    name##_ = value;                           \
    return *this;                              \
  }                                            \
  Type name() const { return name##_; }        \
                                               \
 private:                                      \
  Type name##_

namespace qforge::optim {

// torch.optim.SGD: momentum with optional dampening and Nesterov (Sutskever et al. 2013, eq. 3-4),
// L2 weight decay added to the gradient.
struct SgdOptions {
  explicit SgdOptions(double lr = 1e-2) : lr_(lr) {}
  QFORGE_OPTION(double, lr);
  QFORGE_OPTION(double, momentum) = 0.0;
  QFORGE_OPTION(double, dampening) = 0.0;
  QFORGE_OPTION(bool, nesterov) = false;
  QFORGE_OPTION(double, weight_decay) = 0.0;
};

// torch.optim.Adam (Kingma & Ba 2015, Algorithm 1): weight_decay is L2, added to the gradient
// before the moments, so it is rescaled by the adaptive denominator.
struct AdamOptions {
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
  QFORGE_OPTION(double, lr);
  QFORGE_OPTION(double, beta1) = 0.9;
  QFORGE_OPTION(double, beta2) = 0.999;
  QFORGE_OPTION(double, eps) = 1e-8;
  QFORGE_OPTION(double, weight_decay) = 0.0;
};

// torch.optim.AdamW (Loshchilov & Hutter 2019, Algorithm 2): decoupled weight decay, applied as
// p *= 1 - lr * weight_decay before the Adam update. Note the default decay of 1e-2.
struct AdamWOptions {
  explicit AdamWOptions(double lr = 1e-3) : lr_(lr) {}
  QFORGE_OPTION(double, lr);
  QFORGE_OPTION(double, beta1) = 0.9;
  QFORGE_OPTION(double, beta2) = 0.999;
  QFORGE_OPTION(double, eps) = 1e-8;
  QFORGE_OPTION(double, weight_decay) = 1e-2;
};

}  // namespace qforge::optim
