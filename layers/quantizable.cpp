#include "layers/quantizable.h"

#include <stdexcept>
#include <utility>

namespace qforge::layers {

void Quantizable::set_weight_quantizer(std::shared_ptr<UnaryModule> quantizer) {
  if (weight_quantizer_) throw std::logic_error("set_weight_quantizer: the layer already has a weight quantizer");
  if (!quantizer) throw std::invalid_argument("set_weight_quantizer: null quantizer");
  check_accepts_weight_quantizer();
  weight_quantizer_ = owner().register_module("weight_quantizer", std::move(quantizer));
}

void Quantizable::set_input_quantizer(std::shared_ptr<UnaryModule> quantizer) {
  if (!accepts_input_quantizer()) throw std::logic_error("set_input_quantizer: this layer's input is token ids, not values");
  if (input_quantizer_) throw std::logic_error("set_input_quantizer: the layer already has an input quantizer");
  if (!quantizer) throw std::invalid_argument("set_input_quantizer: null quantizer");
  input_quantizer_ = owner().register_module("input_quantizer", std::move(quantizer));
}

std::shared_ptr<UnaryModule> Quantizable::take_input_quantizer() {
  if (input_quantizer_) owner().unregister_module("input_quantizer");
  return std::exchange(input_quantizer_, nullptr);
}

std::shared_ptr<UnaryModule> Quantizable::take_weight_quantizer() {
  if (weight_quantizer_) owner().unregister_module("weight_quantizer");
  return std::exchange(weight_quantizer_, nullptr);
}

std::shared_ptr<UnaryModule> Quantizable::replace_weight_quantizer(std::shared_ptr<UnaryModule> quantizer) {
  std::shared_ptr<UnaryModule> input = take_input_quantizer();
  std::shared_ptr<UnaryModule> old = take_weight_quantizer();
  set_weight_quantizer(std::move(quantizer));
  if (input) set_input_quantizer(std::move(input));
  return old;
}

Variable Quantizable::effective_weight() const {
  return weight_quantizer_ ? weight_quantizer_->forward(quantizable_weight()) : quantizable_weight();
}

Variable Quantizable::effective_input(const Variable& x) const {
  return input_quantizer_ ? input_quantizer_->forward(x) : x;
}

}  // namespace qforge::layers
