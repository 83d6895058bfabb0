#include "layers/activations.h"

#include <stdexcept>

namespace qforge::layers {

std::shared_ptr<UnaryModule> make_activation(Activation activation) {
  switch (activation) {
    case Activation::kReLU: return std::make_shared<ReLU>();
    case Activation::kGELU: return std::make_shared<GELU>();
    case Activation::kSiLU: return std::make_shared<SiLU>();
    case Activation::kTanh: return std::make_shared<Tanh>();
  }
  throw std::invalid_argument("make_activation: unknown activation " + std::to_string(static_cast<int>(activation)));
}

Activation activation_from_name(const std::string& name) {
  if (name == "relu") return Activation::kReLU;
  if (name == "gelu") return Activation::kGELU;
  if (name == "silu") return Activation::kSiLU;
  if (name == "tanh") return Activation::kTanh;
  throw std::invalid_argument("activation_from_name: expected relu, gelu, silu or tanh, got '" + name + "'");
}

}  // namespace qforge::layers
