#include "layers/mlp.h"

#include <stdexcept>
#include <string>

#include "layers/init.h"

namespace qforge::layers {

MLP::MLP(const std::vector<int64_t>& sizes, Activation activation, bool bias, uint64_t seed) {
  if (sizes.size() < 2) {
    throw std::invalid_argument("MLP: sizes needs at least {in, out}, got " + std::to_string(sizes.size()) + " sizes");
  }
  layers_ = register_module("layers", std::make_shared<ModuleList>());
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    layers_->push_back(std::make_shared<Linear>(sizes[i], sizes[i + 1], bias, derive_seed(seed, i)));
  }
  activation_ = register_module("activation", make_activation(activation));
}

Variable MLP::forward(const Variable& x) {
  Variable h = x;
  for (size_t i = 0; i < layers_->size(); ++i) {
    h = layer(i)->forward(h);
    if (i + 1 < layers_->size()) h = activation_->forward(h);
  }
  return h;
}

}  // namespace qforge::layers
