#pragma once
// Quantizer: the module that fake-quantizes one tensor stream (a layer's weight or its input
// activations) according to a QuantizerSpec, keeping the state that needs: an observer, the current
// scales and zero points, learnable scales for LSQ/LSQ+/PACT/SEQ, and the freeze counter. It is a
// UnaryModule so layers/quantizable.h can install it; its tensors are parameters ("scale",
// "zero_point", "observer_state"), so optimizers train the learnable ones, and its counters are the
// int64 buffer "counters" (exact past 2^24 steps, unseen by optimizers); checkpoints save both
// (resuming continues bit for bit).
//
// Scales come from:
//   - dynamic per token: recomputed from every input row, nothing stored;
//   - observer-driven (STE, clipped STE): in training mode every forward observes the input and
//     recomputes scales until spec.observer.freeze_after_steps; weights are observed afresh each
//     step (a weight's range is its current range), activations accumulate (EMA, histograms...);
//     in eval mode the stored scales are used unchanged;
//   - learned (LSQ, LSQ+, PACT, SEQ): initialised once from the observer on the first training forward,
//     then trained by the optimizer;
//   - GGUF block types (spec.ggml_type, weights only): the ggml codec finds each block's scales from
//     the current weight in every forward (fake_quant_ggml.h); nothing is stored. An importance
//     (set_importance: the imatrix of the weight's input channels) weights the codec as llama.cpp's
//     does; it is data the run folder keeps (trainers/gguf_qat.h), not a parameter.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fakequant/observers/observer.h"
#include "fakequant/quantizer_spec.h"
#include "layers/module.h"

namespace qforge::fakequant {

enum class QuantizerRole { kWeight, kActivation };

/// The quantizer's int64 buffer: [initialized (0/1), observed training steps, frozen (0/1)].
inline constexpr const char* kQuantizerCounters = "counters";
/// Checkpoints written before that buffer existed (trainers checkpoint format 1) held the same three
/// values in a float32 parameter of this name.
inline constexpr const char* kLegacyQuantizerState = "state";
/// The counters of such a legacy "state" tensor. Throws std::invalid_argument naming `name` unless it
/// holds 3 values, the flags 0 or 1 and the step count a non-negative integer.
std::vector<int64_t> counters_from_legacy_state(const autograd::Tensor& state, const std::string& name);

class Quantizer : public layers::UnaryModule {
 public:
  /// `shape`: the weight's shape (kWeight) or the shape of one input row set, where only the last
  /// dimension matters (kActivation: static activation scales are per tensor or per channel of the
  /// last dimension). Throws std::invalid_argument naming `name` when the spec does not fit.
  Quantizer(QuantizerSpec spec, QuantizerRole role, const autograd::Shape& shape, std::string name);

  /// Fake-quantizes x (see the file comment for where its scales come from).
  autograd::Variable forward(const autograd::Variable& x) override;

  const QuantizerSpec& spec() const { return spec_; }
  QuantizerRole role() const { return role_; }
  const std::string& name() const { return name_; }
  /// True once scales exist (after the first training/calibration forward, or a loaded checkpoint).
  bool initialized() const;
  /// Number of training forwards observed so far.
  int64_t observed_steps() const;
  /// Stops observing: the current scales stay (also what PTQ calibration does when it is finished).
  void freeze();
  bool frozen() const;
  /// Scales and zero points as the forward uses them (rounded to the scale dtype; zero points
  /// rounded and clamped). Throws std::logic_error naming the quantizer when not initialized.
  QuantParams current_params() const;
  /// Scales for a static weight tensor without a training forward (PTQ): observes `weight` once,
  /// stores the scales and freezes.
  void calibrate_weight(const autograd::Tensor& weight);
  /// Scales and zero points a post-training method chose (ptq/: GPTQ's per-group grid), stored as they
  /// are and frozen. std::invalid_argument naming the quantizer when the count does not fit.
  void set_params(const QuantParams& params);
  /// GGUF block weights only: the importance of each input channel (the weight's last dimension) the
  /// codec minimises its weighted error with, as llama-quantize --imatrix does (fake_quant_ggml.h).
  /// std::invalid_argument naming the quantizer for another spec or a length other than that dimension.
  void set_importance(std::vector<float> importance);
  /// Empty when unweighted.
  const std::vector<float>& importance() const { return importance_; }

 private:
  bool learns_scale() const;
  void check_ggml_block_fits(const autograd::Shape& shape) const;
  void keep_scales_positive();
  int64_t parameter_count() const { return scale_.numel(); }
  autograd::Variable forward_static(const autograd::Variable& x);
  void observe_and_update(const autograd::Tensor& x);
  void store_params(const QuantParams& params);
  autograd::Variable as_rows(const autograd::Variable& x) const;

  QuantizerSpec spec_;
  QuantizerSpec op_spec_;  // spec_ with the granularity the op sees for this role
  QuantizerRole role_;
  std::string name_;
  std::unique_ptr<Observer> observer_;
  autograd::Variable scale_, zero_point_, observer_state_;
  layers::IntBuffer counters_;  // kQuantizerCounters
  std::vector<float> importance_;
  int64_t row_length_ = 0;  // the last dimension of the shape it was built for
};

}  // namespace qforge::fakequant
