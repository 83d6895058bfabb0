#pragma once
// Observers watch the tensors one quantizer sees during calibration or QAT and turn them into
// scales and zero points (the "stats" side of brevitas' core/stats and torch.ao's observer.py).
// Every observer keeps a fixed-size statistic per quantization parameter, so its whole state fits
// in a float vector whose size depends only on the spec and the parameter count; a trainer saves
// it in a checkpoint and restores it bit for bit.
//
// Observers here (one file each): min_max_observer.h (running min/max), moving_average_observer.h
// (EMA of per-batch min/max), percentile_observer.h, mse_observer.h (clipping-ratio grid search),
// kl_observer.h (TensorRT entropy calibration, Migacz 2017). Not thread-safe: one observer per
// quantizer, used from one thread (the kernels inside may use OpenMP).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"
#include "fakequant/int_quantizer.h"
#include "fakequant/observers/batch_statistics.h"
#include "fakequant/observers/rank_reduction.h"
#include "fakequant/quantizer_spec.h"

namespace qforge::fakequant {

class Observer {
 public:
  virtual ~Observer() = default;
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  // Accumulates the statistics of one batch. After spec.observer.freeze_after_steps observed
  // batches (if >= 0) the observer freezes and further calls do nothing (freeze_after_steps = 0
  // freezes it before any batch). Empty tensors are skipped and not counted; NaNs are ignored.
  // x's parameter layout follows spec.granularity: parameter_count(x.shape(), granularity) must
  // equal the count given at construction, else std::invalid_argument naming the observer, the
  // shape and both counts (checked even when frozen).
  void observe(const Tensor& x);
  // The same for one rank's shard of a batch split over data-parallel ranks: the statistics are
  // those of the whole batch (rank_reduction.h). Every rank must call it, in the same order.
  void observe_across_ranks(const Tensor& x, RankReduction& ranks);
  int64_t steps() const { return steps_; }
  bool frozen() const { return frozen_; }
  void freeze() { frozen_ = true; }

  const QuantizerSpec& spec() const { return spec_; }
  int64_t parameter_count() const { return parameter_count_; }
  // e.g. "minmax observer" (observer_name of the spec's kind).
  std::string name() const;

  // Scales and zero points for what was seen: value_grid.h choose_scale(min, max, spec) of each
  // parameter's range(), so the format and the scale dtype are honoured. Two-level (block) scales
  // are left to the quantizer that stores them. Throws std::logic_error naming the observer if
  // nothing was observed.
  QuantParams compute_params() const;
  // Per-parameter clipping range [min, max] chosen by the observer (same std::logic_error).
  virtual std::pair<std::vector<float>, std::vector<float>> ranges() const = 0;

  // [kind, parameter count (2 floats), steps (2 floats), frozen, statistics...]: every field is
  // exact in float32. load_state checks the size, the kind and the parameter count and throws
  // std::invalid_argument naming the observer when they differ.
  std::vector<float> state() const;
  void load_state(const std::vector<float>& state);
  size_t state_size() const { return kHeaderSize + statistics_size(); }

 protected:
  // `kind` overrides spec.observer.kind, so a concrete observer built directly reports its own kind.
  Observer(const QuantizerSpec& spec, int64_t parameter_count, ObserverKind kind);

  // One batch, already checked against the layout; called only while not frozen.
  virtual void accumulate(const Tensor& x, const ParameterLayout& layout) = 0;
  // A shard's batch, reduced over ranks first; by default gathers the global batch (rows of every
  // rank along axis 0) and accumulates it.
  virtual void accumulate_across_ranks(const Tensor& x, RankReduction& ranks);
  // The observer's own statistics: exactly statistics_size() floats (a constant of the object).
  virtual size_t statistics_size() const = 0;
  virtual void save_statistics(std::vector<float>& out) const = 0;  // appends
  virtual void load_statistics(const float* in) = 0;

  // std::logic_error "<name>: <what> before any observe()" when steps() == 0.
  void require_observed(const char* what) const;
  // std::invalid_argument "<name>: <message> (<spec>)".
  [[noreturn]] void fail(const std::string& message) const;

 private:
  static constexpr size_t kHeaderSize = 6;
  QuantizerSpec spec_;
  int64_t parameter_count_ = 0;
  int64_t steps_ = 0;
  bool frozen_ = false;
};

// Factory on spec.observer.kind. parameter_count = number of scales the quantized tensor has
// (parameter_count(shape, spec.granularity)). Throws std::invalid_argument for invalid specs,
// dynamic per-token specs (their scales come from each forward pass, not from an observer) and
// observer settings out of range (e.g. KL on anything but per-tensor).
std::unique_ptr<Observer> make_observer(const QuantizerSpec& spec, int64_t parameter_count);

}  // namespace qforge::fakequant
