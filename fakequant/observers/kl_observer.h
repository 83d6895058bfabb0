#pragma once
// KL-divergence ("entropy") calibration of TensorRT: Migacz 2017, "8-bit Inference with TensorRT"
// (GTC), slides 29-35. Per tensor only.
//
// Statistics: a histogram of |x| with spec.observer.histogram_bins bins over [0, R], R = the first
// batch's max|x|. When a later batch exceeds R, R grows by the smallest integer factor k that
// covers it and every k neighbouring bins merge into one, so counts stay exact and the state fixed
// (R may then exceed the running max|x| by less than the old R).
//
// Search: for every candidate bin i from L to bins (L = non-negative levels of the format: 128 for
// int8, TensorRT's start; 2^(b-1) for b-bit symmetric ints), the reference P = hist[0:i] with the
// outliers hist[i:] added to its last bin, and the candidate Q = hist[0:i] merged into L
// quantization levels (bin j -> level floor(j L / i)), each level's mass spread evenly over its
// non-empty bins. The chosen i minimizes KL(P || Q) (first minimum; Q = 0 where P > 0 counts as
// +inf), and threshold = min((i + 0.5) * bin_width, running max|x|).
//
// Other formats (document of our extension): float formats (fp8, fp4, nf4) have non-uniform
// grids, so Q merges the bins whose centres fake-quantize (value_grid.h, scale from choose_scale
// for threshold i * bin_width) to the same value, and L is their number of non-negative values
// (E4M3 127, E5M2 124, E2M1 8, NF4 9). Asymmetric integers use the same symmetric threshold T on
// the |x| histogram and clip the observed [min, max] to [-T, T]; L is 2^(b-1) (half the levels per
// side) unless the data is one-sided (min >= 0 or max <= 0), where all 2^b levels span [0, T].
// fp16/bf16 have no scale: the range is the observed one.
//
// A property of the method worth knowing: the first candidate i = L merges nothing (Q = hist[0:L]),
// so its divergence only measures the folded outliers. When L / bins is large (e.g. one-sided
// uint8: 256 of 2048 bins) that candidate can win, i.e. the threshold is then L bins wide.
#include "fakequant/observers/observer.h"

namespace qforge::fakequant {

class KlEntropyObserver : public Observer {
 public:
  // Throws std::invalid_argument unless per tensor and histogram_bins >= 1.
  KlEntropyObserver(const QuantizerSpec& spec, int64_t parameter_count);
  std::pair<std::vector<float>, std::vector<float>> ranges() const override;

  // Chosen candidate bin i (the reference covers bins [0, i)), threshold, and the histogram.
  int64_t chosen_bin() const;
  float threshold() const;
  double bin_width() const { return static_cast<double>(range_) / static_cast<double>(histogram_.size()); }
  const std::vector<float>& histogram() const { return histogram_; }
  // Number of quantization levels L the search merges the reference into (see above).
  int64_t levels() const;

 protected:
  void accumulate(const Tensor& x, const ParameterLayout& layout) override;
  void accumulate_across_ranks(const Tensor& x, RankReduction& ranks) override;
  void accumulate_reduced(const Tensor& x, const ParameterLayout& layout, RankReduction* ranks);
  size_t statistics_size() const override { return 4 + histogram_.size(); }
  void save_statistics(std::vector<float>& out) const override;
  void load_statistics(const float* in) override;

 private:
  void grow_range(float absmax);
  // KL(P || Q) of candidate i, +inf when Q misses mass of P.
  double divergence(int64_t i, int64_t levels, std::vector<double>& p, std::vector<double>& q) const;
  // Level of every bin of candidate i (non-decreasing in the bin).
  void assign_levels(int64_t i, int64_t levels, std::vector<int64_t>& level) const;

  float min_, max_, absmax_ = 0.0f;
  float range_ = 0.0f;  // upper edge of the histogram, 0 until a non-zero value was seen
  std::vector<float> histogram_;
  mutable int64_t chosen_bin_ = -1;  // cache; -1 = stale
};

}  // namespace qforge::fakequant
