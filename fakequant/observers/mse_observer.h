#pragma once
// MSE-optimal clipping (the grid search of e.g. brevitas' MSE scaling and NVIDIA's
// pytorch-quantization "mse" calibrator): per parameter, try the clipping ratios
// alpha in {1, 1 - 1/steps, ..., 1/steps} (steps = spec.observer.search_steps) of the observed range
// (symmetric grids: [-alpha max|x|, alpha max|x|]; asymmetric integers: [alpha min, alpha max]) and
// keep the one whose fake quantization has the smallest sum of squared errors over the observed
// values. The error uses value_grid.h choose_scale + fake_quantize_value for each candidate, so it is
// exact for every format (int, fp8, fp4, nf4) and scale dtype. Ties keep the larger alpha.
//
// Which values: min/max are exact running values over all batches. The values themselves go into a
// fixed-size reservoir per parameter (Vitter's algorithm R with a counter-based hash instead of an
// RNG, so it is deterministic and needs no generator state): capacity = group_size for per-group
// specs, else max(256, 2^18 / parameter_count). Until a parameter has seen more values than that,
// the search runs on all of them exactly — a weight observed once is searched on the whole tensor
// when it fits; larger slices and long activation streams are searched on a uniform sample.
#include "fakequant/observers/observer.h"

namespace qforge::fakequant {

class MseObserver : public Observer {
 public:
  // Throws std::invalid_argument unless search_steps >= 1.
  MseObserver(const QuantizerSpec& spec, int64_t parameter_count);
  std::pair<std::vector<float>, std::vector<float>> ranges() const override;
  // The chosen alpha of each parameter (1 = no clipping).
  std::vector<float> clipping_ratios() const;
  // Reservoir size per parameter (values searched at most) and the values held for parameter p.
  int64_t capacity() const { return capacity_; }
  std::vector<float> reservoir(int64_t p) const;

 protected:
  void accumulate(const Tensor& x, const ParameterLayout& layout) override;
  size_t statistics_size() const override;
  void save_statistics(std::vector<float>& out) const override;
  void load_statistics(const float* in) override;

 private:
  // Chooses alpha for every parameter (cached until the statistics change).
  const std::vector<float>& search() const;
  float search_parameter(int64_t p, bool parallel_candidates) const;

  int64_t capacity_ = 0;
  std::vector<float> min_, max_;
  std::vector<int64_t> seen_;     // values offered to each reservoir so far
  std::vector<float> samples_;    // parameter p owns [p * capacity_, (p + 1) * capacity_)
  mutable std::vector<float> ratios_;  // cache of search(); empty = stale
};

}  // namespace qforge::fakequant
