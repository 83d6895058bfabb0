#pragma once
// Parameter-free activation modules, so activations can be chosen at run time and sit in
// module trees like torch.nn.ReLU etc. Each forwards to the autograd op of the same name.
#include <memory>
#include <string>

#include "autograd/ops.h"
#include "layers/module.h"

namespace qforge::layers {

/// max(x, 0).
class ReLU : public UnaryModule {
 public:
  /// Applies relu elementwise.
  Variable forward(const Variable& x) override { return autograd::relu(x); }
};

/// x * Phi(x) (Hendrycks & Gimpel 2016), exact (erf) or tanh-approximated.
class GELU : public UnaryModule {
 public:
  /// Chooses the erf form (PyTorch's default) or the tanh approximation.
  explicit GELU(autograd::GeluApproximation approximation = autograd::GeluApproximation::kErf)
      : approximation_(approximation) {}
  /// Applies gelu elementwise.
  Variable forward(const Variable& x) override { return autograd::gelu(x, approximation_); }

 private:
  autograd::GeluApproximation approximation_;
};

/// x * sigmoid(x) (SiLU / Swish; Elfwing et al. 2018), Llama's MLP activation.
class SiLU : public UnaryModule {
 public:
  /// Applies silu elementwise.
  Variable forward(const Variable& x) override { return autograd::silu(x); }
};

/// tanh(x).
class Tanh : public UnaryModule {
 public:
  /// Applies tanh elementwise.
  Variable forward(const Variable& x) override { return autograd::tanh(x); }
};

/// The activations make_activation can build.
enum class Activation { kReLU, kGELU, kSiLU, kTanh };

/// A new module for `activation`.
std::shared_ptr<UnaryModule> make_activation(Activation activation);

/// "relu", "gelu", "silu" or "tanh"; throws std::invalid_argument naming any other string.
Activation activation_from_name(const std::string& name);

}  // namespace qforge::layers
