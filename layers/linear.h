#pragma once
// Fully connected layer y = x W^T + b with PyTorch's layout and initialisation (nn.Linear), over
// either a trainable FP32 weight or a frozen packed one (autograd/packed_weight.h, QLoRA's 4-bit
// base), optionally with a LoRA adapter (layers/lora.h).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "autograd/packed_weight.h"
#include "layers/lora.h"
#include "layers/module.h"
#include "layers/quantizable.h"

namespace qforge::layers {

class Dropout;

/// y = x W^T + b. Parameters "weight" [out, in] and, when `bias`, "bias" [out]. With quantizers
/// (layers/quantizable.h): y = q_in(x) q_w(W)^T + b.
///
/// Packed: W is a frozen PackedWeight that forward multiplies tile by tile
/// (autograd::packed_matmul); there is no "weight" parameter and no FP32 copy of W.
///
/// LoRA (add_lora): y = base(x) + scale * lora_B(lora_A(dropout(x))) with children "lora_A"
/// (Linear in -> r), "lora_B" (Linear r -> out) and, when dropout > 0, "lora_dropout", so the
/// adapter's parameters are "<path>.lora_A.weight" and "<path>.lora_B.weight", PEFT's saved names
/// without "base_model.model.". The base weight and bias are frozen while the adapter is on.
class Linear : public UnaryModule, public Quantizable {
 public:
  /// Weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) from generators seeded by `seed`.
  Linear(int64_t in_features, int64_t out_features, bool bias = true, uint64_t seed = 0);
  /// Over the frozen packed `weight` [out, in] (std::invalid_argument when null). The optional
  /// bias starts at zero and is frozen too (load its values with load_state_dict).
  explicit Linear(autograd::PackedWeightPtr weight, bool bias = false);

  /// x [..., in] -> [..., out]. Throws std::invalid_argument when x's last dim is not in_features.
  Variable forward(const Variable& x) override;

  /// The weight [out, in]; undefined when packed (see dense_weight()).
  const Variable& weight() const { return weight_; }
  /// The bias [out]; undefined when built without bias.
  const Variable& bias() const { return bias_; }
  /// Input width.
  int64_t in_features() const { return in_features_; }
  /// Output width.
  int64_t out_features() const { return out_features_; }
  const Variable& quantizable_weight() const override { return weight_; }

  /// True when W is a frozen PackedWeight.
  bool is_packed() const { return packed_ != nullptr; }
  /// The packed weight; null when W is an FP32 parameter.
  const autograd::PackedWeightPtr& packed_weight() const { return packed_; }
  /// The base weight [out, in] in FP32 without the adapter: dequantized (a new tensor) when packed,
  /// otherwise the parameter's storage itself (a handle; clone it to keep a snapshot).
  Tensor dense_weight() const;

  /// Adds a LoRA adapter (see the class comment): A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's
  /// kaiming_uniform_(a=sqrt(5))) seeded from options.seed, B = 0, so the output starts equal to the
  /// base layer's. Freezes the base weight and bias. Throws std::invalid_argument on bad options and
  /// std::logic_error when an adapter is already present.
  void add_lora(const LoraOptions& options);
  /// Folds the adapter into the base: W <- W + scale * B A in FP32, then removes the lora_A,
  /// lora_B and lora_dropout children, so named_parameters() reads as a plain Linear's ("weight",
  /// "bias"). A packed base becomes an FP32 "weight" parameter (the layer is no longer packed). The
  /// weight and bias get back the requires_grad they had before add_lora (true for a packed
  /// weight). Throws std::logic_error without an adapter.
  void merge_lora();
  /// True while an adapter is attached.
  bool has_lora() const { return lora_A_ != nullptr; }
  /// alpha / r (alpha / sqrt(r) with rsLoRA); 0 without an adapter.
  double lora_scale() const { return lora_scale_; }
  /// r; 0 without an adapter.
  int64_t lora_rank() const { return lora_rank_; }
  /// The adapter's down projection A (Linear in -> r); null without an adapter.
  const std::shared_ptr<Linear>& lora_A() const { return lora_A_; }
  /// The adapter's up projection B (Linear r -> out); null without an adapter.
  const std::shared_ptr<Linear>& lora_B() const { return lora_B_; }

 protected:
  Module& owner() override { return *this; }
  void check_accepts_weight_quantizer() const override;

 private:
  Variable base_forward(const Variable& x) const;
  void fold_adapter_into_dense_weight();
  void replace_packed_by_dense(Tensor weight);

  int64_t in_features_, out_features_;
  Variable weight_, bias_;
  autograd::PackedWeightPtr packed_;
  std::shared_ptr<Linear> lora_A_, lora_B_;
  std::shared_ptr<Dropout> lora_dropout_;
  double lora_scale_ = 0;
  int64_t lora_rank_ = 0;
  bool weight_requires_grad_before_lora_ = true, bias_requires_grad_before_lora_ = true;
};

/// Builds the Linear at HF module path `path` ("model.layers.3.mlp.down_proj", "lm_head") with
/// `in` inputs and `out` outputs and no bias (make_linear asks for one when the model has biases);
/// `seed` is the seed the default Linear would get. Lets
/// a caller create each projection packed right away (LlamaForCausalLM, layers/llama.h), so at most
/// one projection's FP32 weight exists at a time.
using LinearFactory =
    std::function<std::shared_ptr<Linear>(const std::string& path, int64_t in, int64_t out, uint64_t seed)>;

/// factory(path, in, out, seed) when `factory` is set, else Linear(in, out, bias, seed). Throws
/// std::invalid_argument naming the path when the factory returns null, a Linear of another shape,
/// or (with `bias`) one without a bias.
std::shared_ptr<Linear> make_linear(const LinearFactory& factory, const std::string& path, int64_t in, int64_t out,
                                    uint64_t seed, bool bias = false);

/// "prefix.name", or "name" when prefix is empty.
std::string join_module_path(const std::string& prefix, const std::string& name);

}  // namespace qforge::layers
