#pragma once
// Quantizable: the hook through which fake quantization (fakequant/qat.h) enters a layer that owns a
// weight (Linear, Conv2d, Embedding). The layer applies an optional weight quantizer to its weight
// and an optional input quantizer to its input in every forward pass; without quantizers it computes
// exactly what it did before. Layers stay ignorant of number formats: a quantizer is any
// UnaryModule, registered as the child "weight_quantizer" / "input_quantizer", so learned scales are
// parameters like any other (the optimizer trains them, checkpoints save them), e.g.
// "model.layers.0.mlp.up_proj.weight_quantizer.scale".
#include <memory>

#include "layers/module.h"

namespace qforge::layers {

class Quantizable {
 public:
  virtual ~Quantizable() = default;

  /// The weight the quantizer sees ([out, in] for Linear, [out, in, k, k] for Conv2d, [vocab, dim]
  /// for Embedding).
  virtual const Variable& quantizable_weight() const = 0;

  /// Installs the weight quantizer; throws std::logic_error when one is already installed.
  void set_weight_quantizer(std::shared_ptr<UnaryModule> quantizer);
  /// Installs the input quantizer; throws std::logic_error when one is already installed or the
  /// layer's input is not a tensor of values (Embedding takes ids).
  void set_input_quantizer(std::shared_ptr<UnaryModule> quantizer);
  /// Remove the input / weight quantizer and return it (null when there is none): post-training
  /// methods (ptq/) take them out to observe the float model, and put them back.
  std::shared_ptr<UnaryModule> take_input_quantizer();
  std::shared_ptr<UnaryModule> take_weight_quantizer();
  /// Puts `quantizer` in place of the weight quantizer (none before is fine) and returns the old one:
  /// post-training methods whose result the rules' quantizer cannot hold (SpQR, GPTQ act-order with
  /// dynamic groups) and checkpoint loads that restore them. The children stay in the order
  /// prepare_qat registers them (weight quantizer, then input quantizer), so named parameters and
  /// buffers keep their order.
  std::shared_ptr<UnaryModule> replace_weight_quantizer(std::shared_ptr<UnaryModule> quantizer);
  const std::shared_ptr<UnaryModule>& weight_quantizer() const { return weight_quantizer_; }
  const std::shared_ptr<UnaryModule>& input_quantizer() const { return input_quantizer_; }
  /// The weight after the weight quantizer (the weight itself without one); what forward uses.
  Variable effective_weight() const;

 protected:
  /// The module that owns the quantizers as children (the layer itself).
  virtual Module& owner() = 0;
  virtual bool accepts_input_quantizer() const { return true; }
  /// Throws std::logic_error (naming why) when the weight cannot take a quantizer (a frozen
  /// packed weight: Linear over a PackedWeight).
  virtual void check_accepts_weight_quantizer() const {}
  /// x after the input quantizer (x itself without one).
  Variable effective_input(const Variable& x) const;

 private:
  std::shared_ptr<UnaryModule> weight_quantizer_, input_quantizer_;
};

}  // namespace qforge::layers
