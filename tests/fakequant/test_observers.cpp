// Observers (fakequant/observers/) without PyTorch: the MSE search against a brute-force scan of
// every candidate for int, fp8, fp4 and nf4 grids and fp16 scales; its reservoir; freezing after
// N steps; state() / load_state() round trips; error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "fakequant/observers/min_max_observer.h"
#include "fakequant/observers/mse_observer.h"
#include "fakequant/observers/observer.h"
#include "fakequant/value_grid.h"
#include "tests/support/error_of.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using namespace qforge::fakequant;
using ::testing::HasSubstr;

QuantizerSpec make_spec(ElementFormat format, int bits, bool symmetric, GranularitySpec granularity, ObserverKind kind) {
  QuantizerSpec spec;
  spec.format = format;
  spec.bits = bits;
  spec.symmetric = symmetric;
  spec.granularity = granularity;
  spec.observer.kind = kind;
  return spec;
}

// N(0, 1) with a few large outliers in rows 0, 3 and 5.
Tensor gaussian_with_outliers(const Shape& shape, uint64_t seed) {
  Tensor x = Tensor::randn(shape, seed);
  const int64_t cols = shape[1];
  const float outliers[][3] = {{0, 17, 14.0f}, {0, 300, -22.0f}, {3, 40, 18.5f}, {5, 511, -16.0f}, {5, 2, 25.0f}};
  for (const auto& o : outliers) x.data()[static_cast<int64_t>(o[0]) * cols + static_cast<int64_t>(o[1])] = o[2];
  return x;
}

// Parameter of element i for the granularities used here (x is 2-D).
int64_t parameter_of(int64_t i, const Shape& shape, const GranularitySpec& g) {
  switch (g.kind) {
    case Granularity::kPerTensor: return 0;
    case Granularity::kPerChannel: return i / shape[1];
    case Granularity::kPerGroup: return i / g.group_size;
  }
  return 0;
}

double fake_quant_sse(const std::vector<float>& values, ScaleAndZeroPoint chosen, const QuantizerSpec& spec) {
  double sse = 0.0;
  for (float v : values) {
    const double d = fake_quantize_value(v, chosen.scale, chosen.zero_point, spec) - v;
    sse += d * d;
  }
  return sse;
}

TEST(MseObserver, BeatsMinMaxAndEveryOtherCandidate) {
  const Shape shape{8, 512};
  const Tensor x = gaussian_with_outliers(shape, 11);
  QuantizerSpec fp16_scales = make_spec(ElementFormat::kInt, 4, true, GranularitySpec::per_tensor(), ObserverKind::kMse);
  fp16_scales.scale_dtype = ScaleDtype::kFp16;
  const std::vector<QuantizerSpec> specs = {
      make_spec(ElementFormat::kInt, 4, true, GranularitySpec::per_tensor(), ObserverKind::kMse),
      make_spec(ElementFormat::kInt, 3, false, GranularitySpec::per_tensor(), ObserverKind::kMse),
      make_spec(ElementFormat::kInt, 8, true, GranularitySpec::per_tensor(), ObserverKind::kMse),
      make_spec(ElementFormat::kInt, 4, true, GranularitySpec::per_channel(0), ObserverKind::kMse),
      make_spec(ElementFormat::kInt, 4, false, GranularitySpec::per_group(64), ObserverKind::kMse),
      make_spec(ElementFormat::kFp8E4M3, 8, true, GranularitySpec::per_tensor(), ObserverKind::kMse),
      make_spec(ElementFormat::kFp4E2M1, 4, true, GranularitySpec::per_channel(0), ObserverKind::kMse),
      make_spec(ElementFormat::kNf4, 4, true, GranularitySpec::per_group(64), ObserverKind::kMse),
      fp16_scales,
  };
  for (const QuantizerSpec& spec : specs) {
    SCOPED_TRACE(spec.describe());
    const int64_t count = parameter_count(shape, spec.granularity);
    MseObserver mse(spec, count);
    MinMaxObserver min_max(spec, count);
    mse.observe(x);
    min_max.observe(x);
    const QuantParams chosen = mse.compute_params(), baseline = min_max.compute_params();
    const std::vector<float> ratios = mse.clipping_ratios();
    std::vector<std::vector<float>> values(count);
    for (int64_t i = 0; i < x.numel(); ++i) values[parameter_of(i, shape, spec.granularity)].push_back(x.data()[i]);
    double total_chosen = 0.0, total_min_max = 0.0;
    float smallest_ratio = 1.0f;
    int64_t clipped = 0;
    for (int64_t p = 0; p < count; ++p) {
      const auto [low, high] = std::minmax_element(values[p].begin(), values[p].end());
      const float absmax = std::max(std::fabs(*low), std::fabs(*high));
      const bool symmetric = spec.format != ElementFormat::kInt || spec.symmetric;
      const int steps = spec.observer.search_steps;
      // Brute force: every candidate ratio, the full fake-quantization error of each.
      double best = std::numeric_limits<double>::infinity();
      for (int k = 0; k < steps; ++k) {
        const float alpha = static_cast<float>(steps - k) / static_cast<float>(steps);
        const ScaleAndZeroPoint candidate = symmetric ? choose_scale(-alpha * absmax, alpha * absmax, spec)
                                                      : choose_scale(alpha * *low, alpha * *high, spec);
        best = std::min(best, fake_quant_sse(values[p], candidate, spec));
      }
      const double ours = fake_quant_sse(values[p], {chosen.scales[p], chosen.zero_points[p]}, spec);
      const double min_max_error = fake_quant_sse(values[p], {baseline.scales[p], baseline.zero_points[p]}, spec);
      ASSERT_EQ(ours, best) << "parameter " << p << " ratio " << ratios[p];
      ASSERT_LE(ours, min_max_error) << "parameter " << p;
      total_chosen += ours;
      total_min_max += min_max_error;
      smallest_ratio = std::min(smallest_ratio, ratios[p]);
      clipped += ratios[p] < 1.0f;
    }
    std::printf("%-36s mse/min-max error %.4f (%.4g vs %.4g), %lld/%lld parameters clipped, smallest ratio %.2f\n",
                spec.describe().c_str(), total_chosen / total_min_max, total_chosen, total_min_max,
                static_cast<long long>(clipped), static_cast<long long>(count), smallest_ratio);
    // The outliers (up to 25 sigma) are clipped on the coarse grids. E4M3's relative precision makes
    // clipping cost more than it saves here, so there it must only be optimal.
    if (spec.format != ElementFormat::kFp8E4M3) {
      EXPECT_LT(smallest_ratio, 1.0f);
      EXPECT_LT(total_chosen, total_min_max);
    }
  }
}

// Past its capacity the reservoir holds a deterministic uniform sample of the stream.
TEST(MseObserver, ReservoirIsADeterministicUniformSample) {
  const QuantizerSpec spec = make_spec(ElementFormat::kInt, 4, true, GranularitySpec::per_tensor(), ObserverKind::kMse);
  MseObserver first(spec, 1), second(spec, 1);
  const int batches = 4;
  const int64_t per_batch = 100000;
  for (int k = 0; k < batches; ++k) {
    // Batch k lives in [k, k + 1), so a sample tells which batch it came from.
    const Tensor x = Tensor::uniform(Shape{per_batch}, static_cast<float>(k), static_cast<float>(k) + 0.999f, 40 + k);
    first.observe(x);
    second.observe(x);
  }
  const std::vector<float> sample = first.reservoir(0);
  ASSERT_EQ(static_cast<int64_t>(sample.size()), first.capacity());
  ASSERT_LT(first.capacity(), batches * per_batch);
  EXPECT_EQ(sample, second.reservoir(0));
  std::vector<int64_t> from_batch(batches, 0);
  for (float v : sample) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LT(v, static_cast<float>(batches));
    ++from_batch[static_cast<int>(v)];
  }
  for (int k = 0; k < batches; ++k) {
    const double share = static_cast<double>(from_batch[k]) / static_cast<double>(sample.size());
    std::printf("reservoir: %lld samples, %.4f from batch %d\n", static_cast<long long>(sample.size()), share, k);
    EXPECT_NEAR(share, 1.0 / batches, 0.01);
  }
  EXPECT_EQ(first.compute_params().scales, second.compute_params().scales);
}

std::vector<QuantizerSpec> one_spec_per_kind(GranularitySpec granularity) {
  std::vector<QuantizerSpec> specs;
  for (ObserverKind kind : {ObserverKind::kMinMax, ObserverKind::kMovingAverageMinMax, ObserverKind::kPercentile,
                            ObserverKind::kMse, ObserverKind::kKlEntropy}) {
    QuantizerSpec spec = make_spec(ElementFormat::kInt, 8, kind != ObserverKind::kMse, granularity, kind);
    if (kind == ObserverKind::kKlEntropy) spec.granularity = GranularitySpec::per_tensor();
    spec.observer.percentile = 99.0;
    spec.observer.averaging_constant = 0.2f;
    specs.push_back(spec);
  }
  return specs;
}

TEST(Observer, FreezesAfterNSteps) {
  const Shape shape{4, 256};
  for (QuantizerSpec spec : one_spec_per_kind(GranularitySpec::per_channel(0))) {
    SCOPED_TRACE(spec.describe());
    spec.observer.freeze_after_steps = 2;
    const int64_t count = parameter_count(shape, spec.granularity);
    const auto observer = make_observer(spec, count);
    observer->observe(Tensor::randn(shape, 1));
    EXPECT_FALSE(observer->frozen());
    observer->observe(Tensor::randn(shape, 2, 2.0f));
    EXPECT_TRUE(observer->frozen());
    const QuantParams before = observer->compute_params();
    const std::vector<float> state = observer->state();
    observer->observe(Tensor::randn(shape, 3, 50.0f));  // would move every statistic
    EXPECT_EQ(observer->steps(), 2);
    EXPECT_EQ(observer->compute_params().scales, before.scales);
    EXPECT_EQ(observer->compute_params().zero_points, before.zero_points);
    EXPECT_EQ(observer->state(), state);

    // Without the limit the third batch does change the parameters (so the check above can fail).
    spec.observer.freeze_after_steps = -1;
    const auto free = make_observer(spec, count);
    for (uint64_t seed : {1, 2}) free->observe(Tensor::randn(shape, seed, seed == 1 ? 1.0f : 2.0f));
    free->observe(Tensor::randn(shape, 3, 50.0f));
    EXPECT_NE(free->compute_params().scales, before.scales);
    free->freeze();
    const QuantParams frozen = free->compute_params();
    free->observe(Tensor::randn(shape, 4, 0.01f));
    EXPECT_EQ(free->compute_params().scales, frozen.scales);
  }
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Observer, StateRoundTripIsBitExact) {
  const Shape shape{6, 300};
  for (const QuantizerSpec& spec : one_spec_per_kind(GranularitySpec::per_channel(0))) {
    SCOPED_TRACE(spec.describe());
    const int64_t count = parameter_count(shape, spec.granularity);
    const auto original = make_observer(spec, count);
    const size_t empty_size = original->state().size();
    for (uint64_t seed = 1; seed <= 3; ++seed) original->observe(Tensor::randn(shape, seed, static_cast<float>(seed)));
    const std::vector<float> state = original->state();
    EXPECT_EQ(state.size(), empty_size);  // fixed size
    EXPECT_EQ(state.size(), original->state_size());
    // Through double (as a checkpoint writer may store it) and back.
    const std::vector<double> stored(state.begin(), state.end());
    const auto restored = make_observer(spec, count);
    restored->load_state(std::vector<float>(stored.begin(), stored.end()));
    EXPECT_EQ(restored->steps(), 3);
    EXPECT_TRUE(bitwise_equal(restored->state(), state));
    const QuantParams a = original->compute_params(), b = restored->compute_params();
    EXPECT_TRUE(bitwise_equal(a.scales, b.scales));
    EXPECT_EQ(a.zero_points, b.zero_points);
    // Both continue identically.
    const Tensor next = Tensor::randn(shape, 9, 5.0f);
    original->observe(next);
    restored->observe(next);
    EXPECT_TRUE(bitwise_equal(original->compute_params().scales, restored->compute_params().scales));
    EXPECT_NE(original->compute_params().scales, a.scales);
    std::printf("%-34s state %zu floats, round trip identical\n", spec.describe().c_str(), state.size());
  }
}

TEST(Observer, StateOfAnotherObserverIsRejected) {
  QuantizerSpec spec = make_spec(ElementFormat::kInt, 8, true, GranularitySpec::per_channel(0), ObserverKind::kMinMax);
  const auto min_max = make_observer(spec, 4);
  min_max->observe(Tensor::randn(Shape{4, 8}, 1));
  spec.observer.kind = ObserverKind::kMovingAverageMinMax;  // same state size, other kind
  const auto ema = make_observer(spec, 4);
  EXPECT_THAT(error_of([&] { ema->load_state(min_max->state()); }), HasSubstr("ema observer: state belongs to observer kind 0, expected 1 (ema)"));
  EXPECT_THAT(error_of([&] { ema->load_state({1.0f, 2.0f}); }), HasSubstr("state has 2 floats, expected 14"));
  const auto wider = make_observer(spec, 5);
  EXPECT_THAT(error_of([&] { wider->load_state(std::vector<float>(wider->state_size(), 0.0f)); }),
              HasSubstr("belongs to observer kind 0, expected 1 (ema)"));
  std::vector<float> corrupted = ema->state();
  corrupted[3] = -1.0f;  // steps
  EXPECT_THAT(error_of([&] { ema->load_state(corrupted); }), HasSubstr("where a count part"));
  EXPECT_EQ(ema->steps(), 0);
}

TEST(Observer, Errors) {
  const QuantizerSpec per_channel = make_spec(ElementFormat::kInt, 4, true, GranularitySpec::per_channel(0), ObserverKind::kMinMax);
  const auto observer = make_observer(per_channel, 6);
  observer->observe(Tensor::randn(Shape{6, 40}, 1));
  EXPECT_THAT(error_of([&] { observer->observe(Tensor::randn(Shape{5, 40}, 2)); }),
              HasSubstr("minmax observer: a tensor of shape [5, 40] has 5 quantization parameters, expected 6"));
  EXPECT_EQ(observer->steps(), 1);

  const auto grouped = make_observer(make_spec(ElementFormat::kInt, 4, true, GranularitySpec::per_group(32), ObserverKind::kMse), 4);
  EXPECT_THAT(error_of([&] { grouped->observe(Tensor::randn(Shape{4, 48}, 3)); }), HasSubstr("group size 32"));

  const auto unused = make_observer(per_channel, 6);
  try {
    unused->compute_params();
    ADD_FAILURE() << "no std::logic_error";
  } catch (const std::logic_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("minmax observer: compute_params before any observe()"));
  }

  QuantizerSpec kl = make_spec(ElementFormat::kInt, 8, true, GranularitySpec::per_channel(0), ObserverKind::kKlEntropy);
  EXPECT_THAT(error_of([&] { make_observer(kl, 6); }), HasSubstr("kl observer: KL calibration (Migacz 2017) is per tensor only"));
  QuantizerSpec token = per_channel;
  token.dynamic_per_token = true;
  EXPECT_THAT(error_of([&] { make_observer(token, 6); }), HasSubstr("dynamic per-token scales"));
  EXPECT_THAT(error_of([&] { make_observer(make_spec(ElementFormat::kInt, 4, true, {}, ObserverKind::kMinMax), 3); }),
              HasSubstr("a per-tensor quantizer has 1 parameter, got 3"));
  QuantizerSpec bad = per_channel;
  bad.observer.kind = ObserverKind::kPercentile;
  bad.observer.percentile = 0.0;
  EXPECT_THAT(error_of([&] { make_observer(bad, 6); }), HasSubstr("percentile observer: percentile must be in (0, 100]"));
  bad.symmetric = false;
  bad.observer.percentile = 40.0;
  EXPECT_THAT(error_of([&] { make_observer(bad, 6); }), HasSubstr("the percentile must be in [50, 100], got 40"));
  bad.observer.kind = ObserverKind::kMovingAverageMinMax;
  bad.observer.averaging_constant = 0.0f;
  EXPECT_THAT(error_of([&] { make_observer(bad, 6); }), HasSubstr("ema observer: averaging constant must be in (0, 1]"));
  bad.observer.averaging_constant = 0.5f;
  bad.observer.kind = ObserverKind::kMse;
  bad.observer.search_steps = 0;
  EXPECT_THAT(error_of([&] { make_observer(bad, 6); }), HasSubstr("search_steps must be >= 1"));
  bad.bits = 9;
  EXPECT_THAT(error_of([&] { make_observer(bad, 6); }), HasSubstr("integer formats need 2..8 bits"));
}

}  // namespace
}  // namespace qforge::testing
