#pragma once
// Percentile clipping: each batch's range is the exact spec.observer.percentile-th percentile of
// each parameter's values (numpy.percentile 'linear'), and batches combine by a cumulative
// (equal-weight) running average of those per-batch ranges. This is the scheme of common QAT /
// calibration toolkits that clip activations per batch and average (e.g. the "percentile"
// calibrators that aggregate per-batch statistics), it is deterministic, and its state is two
// floats per parameter. Symmetric grids (symmetric int, every float format) clip |x| at one
// threshold t and use [-t, t]; asymmetric integers take the lower tail at 100 - p and the upper at
// p of x itself.
#include "fakequant/observers/observer.h"

namespace qforge::fakequant {

class PercentileObserver : public Observer {
 public:
  // Throws std::invalid_argument unless 0 < percentile <= 100 (asymmetric integers: 50 <= percentile).
  PercentileObserver(const QuantizerSpec& spec, int64_t parameter_count);
  std::pair<std::vector<float>, std::vector<float>> ranges() const override;

 protected:
  void accumulate(const Tensor& x, const ParameterLayout& layout) override;
  size_t statistics_size() const override { return 2 * low_.size(); }
  void save_statistics(std::vector<float>& out) const override;
  void load_statistics(const float* in) override;

 private:
  std::vector<float> low_;   // running average of the lower clip (unused for symmetric grids)
  std::vector<float> high_;  // running average of the upper clip (of |x| for symmetric grids)
};

}  // namespace qforge::fakequant
