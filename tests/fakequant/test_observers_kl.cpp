// KL-divergence calibration (fakequant/observers/kl_observer.h, Migacz 2017) against an
// independent numpy implementation of the same algorithm (tests/fakequant/kl_reference.py):
// identical histograms (including the re-binning when the max grows), the same chosen bin and
// threshold, on Laplace samples with outliers. Also sanity checks for fp8 / nf4 grids and a
// one-sided asymmetric range.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "fakequant/observers/kl_observer.h"
#include "fakequant/value_grid.h"
#include "tests/support/tensor_file.h"
#include "tests/support/torch_runner.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using namespace qforge::fakequant;

// Laplace(0, scale) by inversion, plus `outliers` values of magnitude 30..60 with alternating signs.
Tensor laplace(int64_t n, float scale, int outliers, uint64_t seed) {
  const Tensor u = Tensor::uniform(Shape{n}, -0.5f, 0.5f, seed);
  Tensor x(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(u.data()[i]);
    x.data()[i] = -std::copysign(scale, u.data()[i]) * std::log(std::max(1.0f - 2.0f * a, 1e-7f));
  }
  for (int k = 0; k < outliers; ++k) {
    x.data()[(k * 7919) % n] = (k % 2 ? -1.0f : 1.0f) * (30.0f + 30.0f * static_cast<float>(k) / static_cast<float>(outliers));
  }
  return x;
}

float absmax_of(const std::vector<Tensor>& batches) {
  float m = 0.0f;
  for (const Tensor& x : batches) {
    for (int64_t i = 0; i < x.numel(); ++i) m = std::max(m, std::fabs(x.data()[i]));
  }
  return m;
}

// Share of |x| at or below t, over all batches.
double coverage(const std::vector<Tensor>& batches, float t) {
  int64_t inside = 0, total = 0;
  for (const Tensor& x : batches) {
    for (int64_t i = 0; i < x.numel(); ++i) inside += std::fabs(x.data()[i]) <= t;
    total += x.numel();
  }
  return static_cast<double>(inside) / static_cast<double>(total);
}

struct KlCase {
  std::string name;
  QuantizerSpec spec;
  int64_t levels;
  std::vector<Tensor> batches;
};

QuantizerSpec kl_spec(ElementFormat format, int bits, bool symmetric) {
  QuantizerSpec spec;
  spec.format = format;
  spec.bits = bits;
  spec.symmetric = symmetric;
  spec.observer.kind = ObserverKind::kKlEntropy;
  return spec;
}

std::vector<KlCase> kl_cases() {
  std::vector<KlCase> cases;
  cases.push_back({"int8_laplace", kl_spec(ElementFormat::kInt, 8, true), 128, {laplace(200000, 1.0f, 20, 1)}});
  // The second batch raises max|x| from ~12 to 60: the histogram re-bins by an integer factor.
  cases.push_back({"int8_two_batches", kl_spec(ElementFormat::kInt, 8, true), 128,
                   {laplace(100000, 1.0f, 0, 2), laplace(100000, 1.0f, 20, 3)}});
  cases.push_back({"int4_laplace", kl_spec(ElementFormat::kInt, 4, true), 8, {laplace(200000, 1.0f, 20, 4)}});
  QuantizerSpec coarse = kl_spec(ElementFormat::kInt, 6, true);
  coarse.observer.histogram_bins = 512;
  cases.push_back({"int6_512bins", coarse, 32, {laplace(50000, 2.0f, 10, 5)}});
  // One-sided data with an asymmetric format: all 2^b levels span [0, T].
  Tensor relu = laplace(200000, 1.0f, 20, 6);
  for (int64_t i = 0; i < relu.numel(); ++i) relu.data()[i] = std::max(relu.data()[i], 0.0f);
  cases.push_back({"uint8_relu", kl_spec(ElementFormat::kInt, 8, false), 256, {relu}});
  return cases;
}

TEST(KlObserver, MatchesNumpyReferenceOnLaplaceWithOutliers) {
  const auto cases = kl_cases();
  TensorFile request;
  for (const auto& c : cases) {
    const std::string key = "kl/" + c.name + "/";
    request.put(key + "config", {3}, {double(c.spec.observer.histogram_bins), double(c.levels), double(c.batches.size())});
    for (size_t k = 0; k < c.batches.size(); ++k) {
      const auto v = c.batches[k].to_vector();
      request.put(key + "batch" + std::to_string(k), {c.batches[k].numel()}, {v.begin(), v.end()});
    }
  }
  const TensorFile answer = run_torch_script("tests/fakequant/kl_reference.py", request, "fq_kl");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    KlEntropyObserver observer(c.spec, 1);
    for (const Tensor& x : c.batches) observer.observe(x);
    const std::string key = "kl/" + c.name + "/";
    ASSERT_EQ(observer.levels(), c.levels);
    const auto& hist = answer.tensor(key + "hist").values;
    ASSERT_EQ(hist.size(), observer.histogram().size());
    for (size_t j = 0; j < hist.size(); ++j) ASSERT_EQ(observer.histogram()[j], hist[j]) << "bin " << j;
    EXPECT_EQ(observer.bin_width() * double(hist.size()), answer.tensor(key + "range").values[0]);
    const int64_t expected_bin = static_cast<int64_t>(answer.tensor(key + "chosen_bin").values[0]);
    EXPECT_EQ(observer.chosen_bin(), expected_bin);
    EXPECT_EQ(observer.threshold(), static_cast<float>(answer.tensor(key + "threshold").values[0]));

    const float absmax = absmax_of(c.batches), t = observer.threshold();
    const auto [low, high] = observer.ranges();
    const QuantParams params = observer.compute_params();
    std::printf("%-17s bins %4d levels %3lld: bin %4lld of %d, threshold %.4f (max|x| %.2f, %.5f%% of |x| inside), "
                "range [%.4f, %.4f], scale %.6g zp %d, numpy margin to runner-up %.2g\n",
                c.name.c_str(), c.spec.observer.histogram_bins, static_cast<long long>(c.levels),
                static_cast<long long>(observer.chosen_bin()), c.spec.observer.histogram_bins, t, absmax,
                100.0 * coverage(c.batches, t), low[0], high[0], params.scales[0], params.zero_points[0],
                answer.tensor(key + "margin").values[0]);
    // Sane: well below the outliers, yet above the bulk of a unit Laplace (99% of |x| < 4.6).
    EXPECT_LT(t, 0.5f * absmax);
    EXPECT_GT(coverage(c.batches, t), 0.99);
    EXPECT_GT(t, 1.0f);
  }
}

// Non-uniform grids group bins by the value they fake-quantize to; the threshold stays sane.
TEST(KlObserver, FloatFormatsClipOutliers) {
  const std::vector<Tensor> batches = {laplace(200000, 1.0f, 20, 7)};
  const float absmax = absmax_of(batches);
  for (ElementFormat format : {ElementFormat::kFp8E4M3, ElementFormat::kFp8E5M2, ElementFormat::kFp4E2M1, ElementFormat::kNf4}) {
    const QuantizerSpec spec = kl_spec(format, 8, true);
    KlEntropyObserver observer(spec, 1);
    observer.observe(batches[0]);
    const float t = observer.threshold();
    std::printf("%-9s levels %3lld: bin %4lld, threshold %.4f (max|x| %.2f, %.5f%% inside), scale %.6g\n",
                element_format_name(format).c_str(), static_cast<long long>(observer.levels()),
                static_cast<long long>(observer.chosen_bin()), t, absmax, 100.0 * coverage(batches, t),
                observer.compute_params().scales[0]);
    EXPECT_LE(t, absmax);
    EXPECT_GT(coverage(batches, t), 0.99);
    EXPECT_EQ(observer.compute_params().scales[0], choose_scale(-t, t, spec).scale);
  }
}

}  // namespace
}  // namespace qforge::testing
