#include "fakequant/quantizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "autograd/ops.h"
#include "fakequant/element_formats.h"
#include "fakequant/block_scales.h"
#include "fakequant/fake_quant_ggml.h"
#include "fakequant/fake_quant_op.h"
#include "fakequant/value_grid.h"

namespace qforge::fakequant {
namespace {

using autograd::NoGradGuard;
using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;

// PACT and SEQ learn a clipping level alpha in `scale` instead of a step (fake_quant_op.h).
bool holds_clip_level(const QuantizerSpec& spec) {
  return spec.estimator == Estimator::kPact || spec.estimator == Estimator::kSeq;
}

// Layout of the "counters" buffer (and of the legacy "state" parameter).
enum CounterSlot { kInitialized = 0, kSteps = 1, kFrozen = 2, kCounterCount = 3 };

Tensor filled(int64_t n, float value) {
  Tensor t(Shape{n});
  std::fill(t.data(), t.data() + n, value);
  return t;
}

Tensor from_vector(const std::vector<float>& values) {
  Tensor t(Shape{static_cast<int64_t>(std::max<size_t>(values.size(), 1))});
  std::fill(t.data(), t.data() + t.numel(), 0.0f);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

// GGUF block types compute their scales inside the codec, per block, from the weight itself.
bool has_scale(const QuantizerSpec& spec) {
  if (spec.is_ggml_block()) return false;
  return element_format_traits(spec.format).scaled;
}

}  // namespace

std::vector<int64_t> counters_from_legacy_state(const Tensor& state, const std::string& name) {
  if (state.numel() != kCounterCount) {
    throw std::invalid_argument(name + ": legacy quantizer state has " + std::to_string(state.numel()) + " values, expected " +
                                std::to_string(kCounterCount) + " (initialized, steps, frozen)");
  }
  std::vector<int64_t> counters(kCounterCount);
  for (int i = 0; i < kCounterCount; ++i) {
    const float v = state.data()[i];
    const bool flag = i != kSteps;
    if (!(v >= 0.0f) || v != std::floor(v) || (flag && v > 1.0f)) {
      throw std::invalid_argument(name + ": legacy quantizer state[" + std::to_string(i) + "] = " + std::to_string(v) +
                                  (flag ? " is not a 0/1 flag" : " is not a step count"));
    }
    counters[i] = static_cast<int64_t>(v);
  }
  return counters;
}

Quantizer::Quantizer(QuantizerSpec spec, QuantizerRole role, const Shape& shape, std::string name)
    : spec_(std::move(spec)), op_spec_(spec_), role_(role), name_(std::move(name)) {
  validate(spec_, "quantizer " + name_);
  if (spec_.block_scales.enabled()) {
    // store_params already holds the dequantized two-level scales (block_scales.h): the op gets
    // plain fp32 group scales.
    op_spec_.block_scales = BlockScaleSpec{};
    op_spec_.scale_dtype = ScaleDtype::kFp32;
  }
  if (shape.ndim() < 1) throw std::invalid_argument("quantizer " + name_ + ": needs a tensor with at least one dimension");
  row_length_ = shape[shape.ndim() - 1];
  if (spec_.is_ggml_block()) check_ggml_block_fits(shape);
  int64_t count = 1;
  if (spec_.dynamic_per_token || spec_.is_ggml_block()) {
    count = 1;  // nothing stored
  } else if (role_ == QuantizerRole::kWeight) {
    count = fakequant::parameter_count(shape, spec_.granularity);
  } else {
    const Granularity kind = spec_.granularity.kind;
    if (kind == Granularity::kPerGroup) {
      throw std::invalid_argument("quantizer " + name_ + ": static activation scales are per tensor or per channel of "
                                  "the last dimension; use dynamic per-token scales (\":token\") for finer ones");
    }
    if (kind == Granularity::kPerChannel) {
      count = shape[shape.ndim() - 1];
      op_spec_.granularity = GranularitySpec::per_channel(1);  // on x viewed as [rows, features]
    }
  }
  const bool learned = learns_scale();
  const bool learns_offset = spec_.estimator == Estimator::kLsqPlus;
  scale_ = register_parameter("scale", filled(count, 1.0f), learned);
  zero_point_ = register_parameter("zero_point", filled(count, 0.0f), learns_offset);
  counters_ = register_buffer(kQuantizerCounters, std::make_shared<std::vector<int64_t>>(kCounterCount, 0));
  if (!spec_.dynamic_per_token && has_scale(spec_)) {
    observer_ = make_observer(spec_, count);
    if (role_ == QuantizerRole::kActivation) {
      observer_state_ = register_parameter("observer_state", from_vector(observer_->state()), false);
    }
  } else {
    (*counters_)[kInitialized] = 1;  // nothing to observe
  }
}

void Quantizer::check_ggml_block_fits(const Shape& shape) const {
  const ggml::BlockType& type = ggml::block_type(spec_.ggml_type);
  if (role_ != QuantizerRole::kWeight) {
    throw std::invalid_argument("quantizer " + name_ + ": GGUF block type " + type.name +
                                " is a weight format; quantize inputs with e.g. int8:token or leave them float");
  }
  const int64_t row = shape[shape.ndim() - 1];
  if (shape.ndim() != 2 || row % type.block_elements != 0) {
    throw std::invalid_argument("quantizer " + name_ + ": GGUF block type " + type.name + " needs a 2-D weight whose rows " +
                                "(the input dimension, GGUF ne0) are a multiple of " + std::to_string(type.block_elements) +
                                ", got shape " + shape.to_string());
  }
}

bool Quantizer::learns_scale() const {
  return spec_.estimator == Estimator::kLsq || spec_.estimator == Estimator::kLsqPlus ||
         spec_.estimator == Estimator::kPact || spec_.estimator == Estimator::kSeq;
}

bool Quantizer::initialized() const { return (*counters_)[kInitialized] != 0; }
int64_t Quantizer::observed_steps() const { return (*counters_)[kSteps]; }
bool Quantizer::frozen() const { return (*counters_)[kFrozen] != 0; }
void Quantizer::freeze() { (*counters_)[kFrozen] = 1; }

void Quantizer::store_params(const QuantParams& params) {
  const QuantParams stored = spec_.block_scales.enabled() ? storable_params(params, spec_) : params;
  float* scale = scale_.mutable_data().data();
  float* zero_point = zero_point_.mutable_data().data();
  for (int64_t i = 0; i < parameter_count(); ++i) {
    scale[i] = stored.scales[i];
    zero_point[i] = static_cast<float>(stored.zero_points[i]);
  }
  if (holds_clip_level(spec_)) {
    // PACT's and SEQ's parameter is the clipping level alpha = scale * qmax (Choi et al. 2018, §2),
    // the observed absmax with the minmax observer: ParetoQ initialises alpha to max |W| per row.
    for (int64_t i = 0; i < parameter_count(); ++i) scale[i] *= format_max_magnitude(spec_);
  }
  (*counters_)[kInitialized] = 1;
}

void Quantizer::observe_and_update(const Tensor& x) {
  if (role_ == QuantizerRole::kWeight) {
    auto observer = make_observer(spec_, parameter_count());
    observer->observe(x);
    store_params(observer->compute_params());
  } else {
    const Tensor& saved = observer_state_.data();
    observer_->load_state(std::vector<float>(saved.data(), saved.data() + observer_->state().size()));
    // Data-parallel training: this rank holds a shard of the batch, the statistics are the whole batch's.
    RankReduction* ranks = is_training() ? rank_reduction() : nullptr;
    if (ranks) observer_->observe_across_ranks(x, *ranks);
    else observer_->observe(x);
    const std::vector<float> updated = observer_->state();
    std::copy(updated.begin(), updated.end(), observer_state_.mutable_data().data());
    store_params(observer_->compute_params());
  }
  if (!is_training()) return;  // eval-mode weight refresh: not a training step
  ++(*counters_)[kSteps];
  const int64_t freeze_after = spec_.observer.freeze_after_steps;
  if (freeze_after >= 0 && observed_steps() >= freeze_after) freeze();
}

void Quantizer::set_params(const QuantParams& params) {
  if (static_cast<int64_t>(params.scales.size()) != parameter_count() ||
      static_cast<int64_t>(params.zero_points.size()) != parameter_count())
    throw std::invalid_argument("quantizer " + name_ + ": " + std::to_string(params.scales.size()) + " scales and " +
                                std::to_string(params.zero_points.size()) + " zero points for " +
                                std::to_string(parameter_count()) + " parameters");
  store_params(params);
  freeze();
}

void Quantizer::calibrate_weight(const Tensor& weight) {
  if (!has_scale(spec_) || spec_.dynamic_per_token) return;  // includes GGUF block types: scales live in the blocks
  auto observer = make_observer(spec_, parameter_count());
  observer->observe(weight);
  store_params(observer->compute_params());
  freeze();
}

QuantParams Quantizer::current_params() const {
  if (!initialized()) throw std::logic_error("quantizer " + name_ + ": no scales yet (run a training or calibration forward)");
  QuantParams params;
  const float* scale = scale_.data().data();
  const float* zero_point = zero_point_.data().data();
  const IntFormat format{spec_.bits, spec_.symmetric};
  for (int64_t i = 0; i < parameter_count(); ++i) {
    float s = scale[i];
    if (holds_clip_level(spec_)) s /= format_max_magnitude(spec_);
    params.scales.push_back(round_scale(std::max(s, kMinScale), op_spec_.scale_dtype));
    const float zp = spec_.format == ElementFormat::kInt && !spec_.symmetric
                         ? std::clamp(std::nearbyint(zero_point[i]), static_cast<float>(format.qmin()),
                                      static_cast<float>(format.qmax()))
                         : 0.0f;
    params.zero_points.push_back(static_cast<int32_t>(zp));
  }
  return params;
}

Variable Quantizer::as_rows(const Variable& x) const {
  if (op_spec_.granularity.kind != Granularity::kPerChannel || role_ != QuantizerRole::kActivation) return x;
  const int64_t features = x.dim(-1);
  return autograd::reshape(x, {x.numel() / features, features});
}

void Quantizer::keep_scales_positive() {
  // A gradient step can push a learned step size (or PACT's alpha) through zero; LSQ has no
  // constraint of its own. Projecting back onto [kMinScale, inf) after the step (projected gradient
  // descent) keeps the grid valid, is deterministic and survives a checkpoint round trip.
  float* scale = scale_.mutable_data().data();
  for (int64_t i = 0; i < parameter_count(); ++i) {
    if (!(scale[i] >= kMinScale)) scale[i] = kMinScale;  // also catches NaN
    if (std::isinf(scale[i])) scale[i] = std::numeric_limits<float>::max();
  }
}

Variable Quantizer::forward_static(const Variable& x) {
  // A weight's range is its current range, so observer-driven weight scales follow the weight in
  // eval mode too (convert() then sees the scales of the final weights). Activation observers only
  // learn in training mode; learned scales are observed once, to initialise them.
  bool observe = false;
  if (learns_scale()) observe = !initialized() && is_training();
  else if (!frozen()) observe = role_ == QuantizerRole::kWeight || is_training();
  // An activation checkpoint's recompute repeats this forward: observing again would move the EMA
  // twice and count the step twice; the scales the forward stored are the ones to quantize with.
  if (observe && autograd::checkpoint_recomputing()) observe = !initialized();
  if (observe) observe_and_update(x.data());
  if (!initialized()) {
    throw std::logic_error("quantizer " + name_ + ": evaluated before any training or calibration forward set its scales");
  }
  if (learns_scale()) keep_scales_positive();
  Variable scale = learns_scale() ? scale_ : scale_.detach();
  Variable zero_point = spec_.estimator == Estimator::kLsqPlus ? zero_point_ : zero_point_.detach();
  Variable y = fake_quant(as_rows(x), scale, zero_point, op_spec_);
  return y.shape() == x.shape() ? y : autograd::reshape(y, x.shape().to_vector());
}

Variable Quantizer::forward(const Variable& x) {
  if (spec_.is_ggml_block()) {
    return fake_quant_ggml(x, ggml::block_type(spec_.ggml_type), "quantizer " + name_,
                           importance_.empty() ? nullptr : importance_.data());
  }
  if (spec_.dynamic_per_token) return fake_quant_dynamic(x, spec_);
  if (!has_scale(spec_)) return fake_quant(x, scale_.detach(), zero_point_.detach(), spec_);
  if (role_ == QuantizerRole::kActivation && spec_.granularity.kind == Granularity::kPerChannel &&
      x.dim(-1) != parameter_count()) {
    throw std::invalid_argument("quantizer " + name_ + ": input last dim " + std::to_string(x.dim(-1)) + " != " +
                                std::to_string(parameter_count()) + " channels it was built for");
  }
  return forward_static(x);
}

void Quantizer::set_importance(std::vector<float> importance) {
  if (!spec_.is_ggml_block() || role_ != QuantizerRole::kWeight) {
    throw std::invalid_argument("quantizer " + name_ + ": an importance matrix weights GGUF block types only");
  }
  if (static_cast<int64_t>(importance.size()) != row_length_) {
    throw std::invalid_argument("quantizer " + name_ + ": importance has " + std::to_string(importance.size()) +
                                " values, rows have " + std::to_string(row_length_));
  }
  importance_ = std::move(importance);
}

}  // namespace qforge::fakequant
