#include "fakequant/observers/observer.h"

#include <algorithm>
#include <stdexcept>

#include "fakequant/observers/kl_observer.h"
#include "fakequant/observers/min_max_observer.h"
#include "fakequant/observers/moving_average_observer.h"
#include "fakequant/observers/mse_observer.h"
#include "fakequant/observers/percentile_observer.h"
#include "fakequant/value_grid.h"

namespace qforge::fakequant {

Observer::Observer(const QuantizerSpec& spec, int64_t parameter_count, ObserverKind kind)
    : spec_(spec), parameter_count_(parameter_count) {
  spec_.observer.kind = kind;
  validate(spec_, name());
  if (spec.dynamic_per_token) {
    fail("dynamic per-token scales are computed in every forward pass and have no observer");
  }
  if (parameter_count < 1) fail("parameter count must be positive, got " + std::to_string(parameter_count));
  if (spec.granularity.kind == Granularity::kPerTensor && parameter_count != 1) {
    fail("a per-tensor quantizer has 1 parameter, got " + std::to_string(parameter_count));
  }
}

std::string Observer::name() const { return observer_name(spec_.observer.kind) + " observer"; }

void Observer::fail(const std::string& message) const {
  throw std::invalid_argument(name() + ": " + message + " (" + spec_.describe() + ")");
}

void Observer::require_observed(const char* what) const {
  if (steps_ == 0) throw std::logic_error(name() + ": " + what + " before any observe()");
}

void Observer::observe(const Tensor& x) {
  // The shape is checked even when frozen, so a miswired quantizer fails on its first call.
  const ParameterLayout layout = parameter_layout(x.shape(), spec_.granularity, parameter_count_, name());
  const int64_t limit = spec_.observer.freeze_after_steps;
  if (limit >= 0 && steps_ >= limit) frozen_ = true;
  // torch.ao's observers skip empty batches too; counting one would make an EMA start from +-inf.
  if (frozen_ || x.numel() == 0) return;
  accumulate(x, layout);
  ++steps_;
  if (limit >= 0 && steps_ >= limit) frozen_ = true;
}

void Observer::observe_across_ranks(const Tensor& x, RankReduction& ranks) {
  parameter_layout(x.shape(), spec_.granularity, parameter_count_, name());
  const int64_t limit = spec_.observer.freeze_after_steps;
  if (limit >= 0 && steps_ >= limit) frozen_ = true;
  // Frozen on every rank alike (the same step count); shards are equal, so all are empty or none.
  if (frozen_ || x.numel() == 0) return;
  accumulate_across_ranks(x, ranks);
  ++steps_;
  if (limit >= 0 && steps_ >= limit) frozen_ = true;
}

void Observer::accumulate_across_ranks(const Tensor& x, RankReduction& ranks) {
  const std::vector<float> all = ranks.gather(x.to_vector());
  if (all.empty()) return;
  Shape shape = x.shape();
  const int64_t per_row = x.numel() / std::max<int64_t>(1, shape[0]);
  shape[0] = static_cast<int64_t>(all.size()) / per_row;
  const Tensor global = Tensor::from_vector(shape, all);
  accumulate(global, parameter_layout(global.shape(), spec_.granularity, parameter_count_, name()));
}

QuantParams Observer::compute_params() const {
  require_observed("compute_params");
  const auto [mins, maxs] = ranges();
  QuantParams params;
  params.scales.resize(parameter_count_);
  params.zero_points.resize(parameter_count_);
  for (int64_t p = 0; p < parameter_count_; ++p) {
    // A parameter that saw no values (zero-sized batches only) gets the range [0, 0].
    const bool empty = !(mins[p] <= maxs[p]);
    const ScaleAndZeroPoint chosen = choose_scale(empty ? 0.0f : mins[p], empty ? 0.0f : maxs[p], spec_);
    params.scales[p] = chosen.scale;
    params.zero_points[p] = chosen.zero_point;
  }
  return params;
}

std::vector<float> Observer::state() const {
  std::vector<float> state;
  state.reserve(state_size());
  state.push_back(static_cast<float>(static_cast<int>(spec_.observer.kind)));
  append_count(state, parameter_count_);
  append_count(state, steps_);
  state.push_back(frozen_ ? 1.0f : 0.0f);
  save_statistics(state);
  return state;
}

void Observer::load_state(const std::vector<float>& state) {
  if (state.size() != state_size()) {
    fail("state has " + std::to_string(state.size()) + " floats, expected " + std::to_string(state_size()));
  }
  const int kind = static_cast<int>(spec_.observer.kind);
  if (state[0] != static_cast<float>(kind)) {
    fail("state belongs to observer kind " + std::to_string(static_cast<int>(state[0])) + ", expected " +
         std::to_string(kind) + " (" + observer_name(spec_.observer.kind) + ")");
  }
  const int64_t count = read_count(&state[1], name());
  if (count != parameter_count_) {
    fail("state has " + std::to_string(count) + " parameters, expected " + std::to_string(parameter_count_));
  }
  if (state[5] != 0.0f && state[5] != 1.0f) fail("state has frozen flag " + std::to_string(state[5]));
  const int64_t steps = read_count(&state[3], name());
  // A statistics block that turns out malformed half way must not leave a half-loaded observer.
  const std::vector<float> previous = this->state();
  try {
    load_statistics(state.data() + kHeaderSize);
  } catch (...) {
    load_statistics(previous.data() + kHeaderSize);
    throw;
  }
  steps_ = steps;
  frozen_ = state[5] == 1.0f;
}

namespace {
RankReduction* g_rank_reduction = nullptr;
}  // namespace

void set_rank_reduction(RankReduction* reduction) { g_rank_reduction = reduction; }
RankReduction* rank_reduction() { return g_rank_reduction; }

std::unique_ptr<Observer> make_observer(const QuantizerSpec& spec, int64_t parameter_count) {
  switch (spec.observer.kind) {
    case ObserverKind::kMinMax: return std::make_unique<MinMaxObserver>(spec, parameter_count);
    case ObserverKind::kMovingAverageMinMax: return std::make_unique<MovingAverageMinMaxObserver>(spec, parameter_count);
    case ObserverKind::kPercentile: return std::make_unique<PercentileObserver>(spec, parameter_count);
    case ObserverKind::kMse: return std::make_unique<MseObserver>(spec, parameter_count);
    case ObserverKind::kKlEntropy: return std::make_unique<KlEntropyObserver>(spec, parameter_count);
  }
  throw std::invalid_argument("make_observer: unknown observer kind " + std::to_string(static_cast<int>(spec.observer.kind)));
}

}  // namespace qforge::fakequant
