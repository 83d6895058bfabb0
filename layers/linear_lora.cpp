// Linear's LoRA adapter (layers/lora.h): attach, forward term (in linear.cpp), merge.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "layers/dropout.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/lora.h"

namespace qforge::layers {

void Linear::add_lora(const LoraOptions& options) {
  options.validate();
  if (lora_A_) throw std::logic_error("Linear::add_lora: the layer already has a LoRA adapter (rank " +
                                      std::to_string(lora_rank_) + ")");
  // A as PEFT's reset_lora_parameters: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)),
  // which is exactly Linear's default init; B = 0 so training starts at the base model (Hu et al.
  // 2021, §4.1).
  auto a = std::make_shared<Linear>(in_features_, options.rank, false, derive_seed(options.seed, 0));
  auto b = std::make_shared<Linear>(options.rank, out_features_, false, derive_seed(options.seed, 1));
  Variable b_weight = b->weight();
  std::fill(b_weight.mutable_data().data(), b_weight.mutable_data().data() + b_weight.numel(), 0.0f);
  lora_A_ = register_module("lora_A", a);
  lora_B_ = register_module("lora_B", b);
  if (options.dropout > 0) {
    lora_dropout_ = register_module(
        "lora_dropout", std::make_shared<Dropout>(static_cast<float>(options.dropout), derive_seed(options.seed, 2)));
    lora_dropout_->train(is_training());
  }
  lora_A_->train(is_training());
  lora_B_->train(is_training());
  lora_scale_ = options.scale();
  lora_rank_ = options.rank;
  if (weight_.defined()) {
    weight_requires_grad_before_lora_ = weight_.requires_grad();
    weight_.set_requires_grad(false);
  }
  if (bias_.defined()) {
    bias_requires_grad_before_lora_ = bias_.requires_grad();
    bias_.set_requires_grad(false);
  }
}

void Linear::merge_lora() {
  if (!lora_A_) throw std::logic_error("Linear::merge_lora: the layer has no LoRA adapter");
  if (packed_) {
    replace_packed_by_dense(dense_weight());
  }
  fold_adapter_into_dense_weight();
  weight_.set_requires_grad(weight_requires_grad_before_lora_);
  if (bias_.defined()) bias_.set_requires_grad(bias_requires_grad_before_lora_);
  unregister_module("lora_A");
  unregister_module("lora_B");
  if (lora_dropout_) unregister_module("lora_dropout");
  lora_A_.reset();
  lora_B_.reset();
  lora_dropout_.reset();
  lora_scale_ = 0;
  lora_rank_ = 0;
}

// W <- W + scale * (B A), in FP32 (layers/lora.h add_lora_product).
void Linear::fold_adapter_into_dense_weight() {
  add_lora_product(weight_.mutable_data(), lora_A_->weight().data(), lora_B_->weight().data(),
                   static_cast<float>(lora_scale_), "weight");
}

// Registers the FP32 weight ahead of the bias, as the dense constructor does, so exporters see the
// same names in the same order.
void Linear::replace_packed_by_dense(Tensor weight) {
  const bool had_bias = bias_.defined();
  Tensor bias_values = had_bias ? bias_.data() : Tensor();
  if (had_bias) unregister_parameter("bias");
  weight_ = register_parameter("weight", std::move(weight), true);
  if (had_bias) bias_ = register_parameter("bias", bias_values, bias_.requires_grad());
  packed_.reset();
  weight_requires_grad_before_lora_ = true;
}

}  // namespace qforge::layers
