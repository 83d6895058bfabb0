#pragma once
// Running min / max per parameter: torch.ao.quantization.MinMaxObserver (per tensor) and
// PerChannelMinMaxObserver (per channel) semantics, here for every granularity. compute_params
// applies value_grid.h choose_scale, which widens the range to contain 0 for asymmetric integers
// exactly like torch.ao's _calculate_qparams. Symmetric integers map max|x| to qmax (quant_math.h),
// which equals torch.ao's per_tensor_symmetric scale max|x| / ((quant_max - quant_min) / 2) when
// torch's range is the restricted [-qmax, qmax]; with torch's full [-2^(b-1), 2^(b-1) - 1] range
// torch divides by qmax + 0.5 instead. NaN values are skipped (torch would propagate them).
#include "fakequant/observers/observer.h"

namespace qforge::fakequant {

class MinMaxObserver : public Observer {
 public:
  MinMaxObserver(const QuantizerSpec& spec, int64_t parameter_count);
  std::pair<std::vector<float>, std::vector<float>> ranges() const override;

 protected:
  MinMaxObserver(const QuantizerSpec& spec, int64_t parameter_count, ObserverKind kind);
  void accumulate(const Tensor& x, const ParameterLayout& layout) override;
  void accumulate_across_ranks(const Tensor& x, RankReduction& ranks) override;
  // Merges one batch's per-parameter min/max into min_/max_ (here: running min and max).
  virtual void combine(const std::vector<float>& batch_min, const std::vector<float>& batch_max);
  size_t statistics_size() const override { return 2 * min_.size(); }
  void save_statistics(std::vector<float>& out) const override;
  void load_statistics(const float* in) override;

  std::vector<float> min_;  // +inf until a value was seen
  std::vector<float> max_;  // -inf until a value was seen
};

}  // namespace qforge::fakequant
