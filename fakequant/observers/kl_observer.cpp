#include "fakequant/observers/kl_observer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fakequant/element_formats.h"
#include "fakequant/value_grid.h"

namespace qforge::fakequant {

KlEntropyObserver::KlEntropyObserver(const QuantizerSpec& spec, int64_t parameter_count)
    : Observer(spec, parameter_count, ObserverKind::kKlEntropy),
      min_(std::numeric_limits<float>::infinity()),
      max_(-std::numeric_limits<float>::infinity()),
      histogram_(std::max(spec.observer.histogram_bins, 1), 0.0f) {
  if (spec.granularity.kind != Granularity::kPerTensor) {
    fail("KL calibration (Migacz 2017) is per tensor only; use minmax, percentile or mse per channel or group");
  }
  if (spec.observer.histogram_bins < 1) fail("histogram_bins must be >= 1, got " + std::to_string(spec.observer.histogram_bins));
}

int64_t KlEntropyObserver::levels() const {
  const QuantizerSpec& s = spec();
  // Float grids: the non-negative values of the format (element_formats.h), 0 for fp16 / bf16 (no clipping).
  if (s.format != ElementFormat::kInt) return element_format_traits(s.format).kl_levels;
  const bool one_sided = min_ >= 0.0f || max_ <= 0.0f;
  return !s.symmetric && one_sided ? int64_t{1} << s.bits : int64_t{1} << (s.bits - 1);
}

void KlEntropyObserver::grow_range(float absmax) {
  if (range_ == 0.0f) {  // every count so far is a zero, which stays in bin 0
    range_ = absmax;
    return;
  }
  if (absmax <= range_) return;
  auto factor = static_cast<int64_t>(std::ceil(static_cast<double>(absmax) / static_cast<double>(range_)));
  while (static_cast<float>(factor) * range_ < absmax) ++factor;
  const auto bins = static_cast<int64_t>(histogram_.size());
  std::vector<float> merged(bins, 0.0f);
  for (int64_t j = 0; j < bins; ++j) merged[j / factor] += histogram_[j];
  histogram_ = std::move(merged);
  range_ = static_cast<float>(factor) * range_;
}

void KlEntropyObserver::accumulate(const Tensor& x, const ParameterLayout& layout) {
  accumulate_reduced(x, layout, nullptr);
}

// The global batch's range is the range over ranks; with it every rank bins with the same width, so
// the global histogram is the sum of the shards' counts (exact below 2^53).
void KlEntropyObserver::accumulate_across_ranks(const Tensor& x, RankReduction& ranks) {
  accumulate_reduced(x, parameter_layout(x.shape(), spec().granularity, parameter_count(), name()), &ranks);
}

void KlEntropyObserver::accumulate_reduced(const Tensor& x, const ParameterLayout& layout, RankReduction* ranks) {
  chosen_bin_ = -1;
  std::vector<float> batch_min, batch_max;
  batch_min_max(x, layout, batch_min, batch_max);
  if (ranks) ranks->min(batch_min), ranks->max(batch_max);
  if (!(batch_min[0] <= batch_max[0])) return;  // nothing but NaN / no elements
  min_ = std::min(min_, batch_min[0]);
  max_ = std::max(max_, batch_max[0]);
  const float batch_absmax = std::max(std::fabs(batch_min[0]), std::fabs(batch_max[0]));
  absmax_ = std::max(absmax_, batch_absmax);
  grow_range(batch_absmax);
  const auto bins = static_cast<int64_t>(histogram_.size());
  const double width = bin_width();
  std::vector<int64_t> counts(bins, 0);
  const float* data = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (std::isnan(data[i])) continue;
    // range_ == 0 means every value so far is 0: bin 0.
    const double position = width > 0.0 ? std::floor(std::fabs(static_cast<double>(data[i])) / width) : 0.0;
    ++counts[std::min(static_cast<int64_t>(position), bins - 1)];
  }
  if (ranks) {
    std::vector<double> total(counts.begin(), counts.end());
    ranks->sum(total);
    for (int64_t j = 0; j < bins; ++j) counts[j] = static_cast<int64_t>(total[j]);
  }
  for (int64_t j = 0; j < bins; ++j) histogram_[j] += static_cast<float>(counts[j]);
}

void KlEntropyObserver::assign_levels(int64_t i, int64_t levels, std::vector<int64_t>& level) const {
  level.resize(i);
  const QuantizerSpec& s = spec();
  if (s.format == ElementFormat::kInt) {
    // TensorRT merges the i reference bins into `levels` equal runs (exact integer arithmetic in
    // place of the slides' float linspace / digitize).
    for (int64_t j = 0; j < i; ++j) level[j] = j * levels / i;
    return;
  }
  // Float grids: bins whose centres land on the same grid value form one level.
  const double width = bin_width();
  const float threshold = static_cast<float>(static_cast<double>(i) * width);
  const ScaleAndZeroPoint chosen = choose_scale(-threshold, threshold, s);
  float previous = std::numeric_limits<float>::quiet_NaN();
  int64_t current = -1;
  for (int64_t j = 0; j < i; ++j) {
    const auto centre = static_cast<float>((static_cast<double>(j) + 0.5) * width);
    const float value = fake_quantize_value(centre, chosen.scale, 0, s);
    if (!(value == previous)) ++current;
    previous = value;
    level[j] = current;
  }
}

double KlEntropyObserver::divergence(int64_t i, int64_t levels, std::vector<double>& p, std::vector<double>& q) const {
  const auto bins = static_cast<int64_t>(histogram_.size());
  std::vector<int64_t> level;
  assign_levels(i, levels, level);
  const int64_t level_count = level.back() + 1;
  std::vector<double> level_mass(level_count, 0.0);
  std::vector<int64_t> level_nonzero(level_count, 0);
  double outliers = 0.0;
  for (int64_t j = i; j < bins; ++j) outliers += histogram_[j];
  p.assign(histogram_.begin(), histogram_.begin() + i);
  p[i - 1] += outliers;
  for (int64_t j = 0; j < i; ++j) {
    level_mass[level[j]] += histogram_[j];
    level_nonzero[level[j]] += histogram_[j] != 0.0f;
  }
  q.assign(i, 0.0);
  for (int64_t j = 0; j < i; ++j) {
    if (histogram_[j] != 0.0f) q[j] = level_mass[level[j]] / static_cast<double>(level_nonzero[level[j]]);
  }
  double p_total = 0.0, q_total = 0.0;
  for (int64_t j = 0; j < i; ++j) {
    p_total += p[j];
    q_total += q[j];
  }
  if (q_total == 0.0) return std::numeric_limits<double>::infinity();
  double kl = 0.0;
  for (int64_t j = 0; j < i; ++j) {
    if (p[j] == 0.0) continue;
    if (q[j] == 0.0) return std::numeric_limits<double>::infinity();
    const double pj = p[j] / p_total, qj = q[j] / q_total;
    kl += pj * std::log(pj / qj);
  }
  return kl;
}

int64_t KlEntropyObserver::chosen_bin() const {
  require_observed("chosen_bin");
  if (chosen_bin_ >= 0) return chosen_bin_;
  const auto bins = static_cast<int64_t>(histogram_.size());
  const int64_t level_count = levels();
  if (level_count == 0 || range_ == 0.0f) return chosen_bin_ = bins;  // fp16/bf16, or all zeros: no clipping
  const int64_t start = std::min(level_count, bins);
  std::vector<double> divergences(bins - start + 1);
  // Candidates are independent; each sums in a fixed order, so the result is deterministic.
#pragma omp parallel if (bins >= 256)
  {
    std::vector<double> p, q;
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = start; i <= bins; ++i) divergences[i - start] = divergence(i, level_count, p, q);
  }
  chosen_bin_ = start + (std::min_element(divergences.begin(), divergences.end()) - divergences.begin());
  return chosen_bin_;
}

float KlEntropyObserver::threshold() const {
  const int64_t i = chosen_bin();
  const auto edge = static_cast<float>((static_cast<double>(i) + 0.5) * bin_width());
  return std::min(edge, absmax_);
}

std::pair<std::vector<float>, std::vector<float>> KlEntropyObserver::ranges() const {
  require_observed("ranges");
  if (!(min_ <= max_)) return {{0.0f}, {0.0f}};
  const float t = threshold();
  if (has_symmetric_grid(spec())) return {{-t}, {t}};
  return {{std::max(min_, -t)}, {std::min(max_, t)}};
}

void KlEntropyObserver::save_statistics(std::vector<float>& out) const {
  out.insert(out.end(), {min_, max_, absmax_, range_});
  out.insert(out.end(), histogram_.begin(), histogram_.end());
}

void KlEntropyObserver::load_statistics(const float* in) {
  chosen_bin_ = -1;
  min_ = in[0];
  max_ = in[1];
  absmax_ = in[2];
  range_ = in[3];
  std::copy(in + 4, in + 4 + histogram_.size(), histogram_.begin());
}

}  // namespace qforge::fakequant
