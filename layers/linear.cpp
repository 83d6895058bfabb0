#include "layers/linear.h"

#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "layers/dropout.h"
#include "layers/init.h"

namespace qforge::layers {

namespace {

std::string shape_text(int64_t rows, int64_t cols) { return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]"; }

}  // namespace

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, uint64_t seed)
    : in_features_(in_features), out_features_(out_features) {
  if (in_features <= 0 || out_features <= 0) {
    throw std::invalid_argument("Linear: in_features and out_features must be positive, got " +
                                std::to_string(in_features) + " and " + std::to_string(out_features));
  }
  weight_ = register_parameter("weight", linear_uniform(Shape{out_features, in_features}, in_features,
                                                        derive_seed(seed, 0)));
  if (bias) bias_ = register_parameter("bias", linear_uniform(Shape{out_features}, in_features, derive_seed(seed, 1)));
}

Linear::Linear(autograd::PackedWeightPtr weight, bool bias) : packed_(std::move(weight)) {
  if (!packed_) throw std::invalid_argument("Linear: packed weight is null");
  in_features_ = packed_->cols();
  out_features_ = packed_->rows();
  if (in_features_ <= 0 || out_features_ <= 0) {
    throw std::invalid_argument("Linear: packed " + packed_->format() + " weight has shape " +
                                shape_text(out_features_, in_features_));
  }
  if (bias) bias_ = register_parameter("bias", Tensor::full(Shape{out_features_}, 0.0f), false);
}

Variable Linear::base_forward(const Variable& x) const {
  // matmul with transpose_b reads W [out, in] as W^T without a copy; a 2-D W folds all leading
  // dims of x into one GEMM. A packed W is decoded a tile of rows at a time.
  Variable y = packed_ ? autograd::packed_matmul(effective_input(x), packed_)
                       : autograd::matmul(effective_input(x), effective_weight(), false, true);
  return bias_.defined() ? autograd::add(y, bias_) : y;
}

Variable Linear::forward(const Variable& x) {
  if (x.ndim() < 1 || x.dim(-1) != in_features_) {
    throw std::invalid_argument("Linear: input last dim " + (x.ndim() < 1 ? std::string("(scalar)") : std::to_string(x.dim(-1))) +
                                " != in_features " + std::to_string(in_features_) + " (input " +
                                x.shape().to_string() + ")");
  }
  Variable y = base_forward(x);
  if (!lora_A_) return y;
  // PEFT's lora.Linear.forward: result + lora_B(lora_A(dropout(x))) * scaling. The adapter sees x
  // itself, not the input quantizer's output.
  const Variable h = lora_dropout_ ? lora_dropout_->forward(x) : x;
  return autograd::add(y, autograd::mul_scalar(lora_B_->forward(lora_A_->forward(h)), static_cast<float>(lora_scale_)));
}

Tensor Linear::dense_weight() const {
  if (!packed_) return weight_.data();
  Tensor w(Shape{out_features_, in_features_});
  packed_->dequantize_rows(0, out_features_, w.data());
  return w;
}

void Linear::check_accepts_weight_quantizer() const {
  if (packed_) {
    throw std::logic_error("Linear: cannot install a weight quantizer on a packed " + packed_->format() + " weight " +
                           shape_text(out_features_, in_features_) +
                           ": it is frozen in its packed format (quantize a dense Linear instead)");
  }
}

std::shared_ptr<Linear> make_linear(const LinearFactory& factory, const std::string& path, int64_t in, int64_t out,
                                    uint64_t seed, bool bias) {
  if (!factory) return std::make_shared<Linear>(in, out, bias, seed);
  std::shared_ptr<Linear> linear = factory(path, in, out, seed);
  if (!linear) throw std::invalid_argument("LinearFactory returned null for '" + path + "'");
  if (linear->in_features() != in || linear->out_features() != out) {
    throw std::invalid_argument("LinearFactory: '" + path + "' must be [out, in] = " + shape_text(out, in) + ", got " +
                                shape_text(linear->out_features(), linear->in_features()));
  }
  if (bias && !linear->bias().defined())
    throw std::invalid_argument("LinearFactory: '" + path + "' needs a bias (the model has biased projections)");
  return linear;
}

std::string join_module_path(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace qforge::layers
