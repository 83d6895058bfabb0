// Observers (fakequant/observers/) against PyTorch 1.13: min-max and moving-average min-max scales,
// zero points and running statistics equal torch.ao's MinMaxObserver, PerChannelMinMaxObserver,
// MovingAverageMinMaxObserver and MovingAveragePerChannelMinMaxObserver over several batches for
// 2..8 bits, symmetric and affine; percentiles equal numpy.percentile and torch.quantile (float64).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "fakequant/observers/observer.h"
#include "tests/support/tensor_file.h"
#include "tests/support/torch_runner.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using namespace qforge::fakequant;

std::vector<double> as_doubles(const Tensor& t) {
  const auto v = t.to_vector();
  return {v.begin(), v.end()};
}

struct TorchCase {
  std::string name;
  QuantizerSpec spec;
  std::vector<Tensor> batches;
};

// Batches whose spread and offset change, so running min/max and the EMA move every step; row 1
// is shifted positive (asymmetric zero point at qmin) in every batch.
std::vector<Tensor> make_batches(const Shape& shape, int count, uint64_t seed) {
  std::vector<Tensor> batches;
  for (int k = 0; k < count; ++k) {
    Tensor x = Tensor::randn(shape, seed * 100 + k, 0.5f + 0.4f * static_cast<float>(k));
    const int64_t row = x.numel() / shape[0];
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] += 0.3f * static_cast<float>(k) - 0.2f;
    for (int64_t i = row; i < 2 * row; ++i) x.data()[i] = std::fabs(x.data()[i]) + 0.5f;
    batches.push_back(x);
  }
  return batches;
}

std::vector<TorchCase> torch_cases() {
  std::vector<TorchCase> cases;
  uint64_t seed = 1;
  for (ObserverKind kind : {ObserverKind::kMinMax, ObserverKind::kMovingAverageMinMax}) {
    for (int bits = 2; bits <= 8; ++bits) {
      for (bool symmetric : {true, false}) {
        for (int axis : {-1, 0, 1}) {
          QuantizerSpec spec;
          spec.bits = bits;
          spec.symmetric = symmetric;
          spec.observer.kind = kind;
          spec.observer.averaging_constant = 0.01f * static_cast<float>(bits) + 0.05f;
          spec.granularity = axis < 0 ? GranularitySpec::per_tensor() : GranularitySpec::per_channel(axis);
          const Shape shape = axis == 1 && bits % 2 ? Shape{3, 5, 8} : Shape{6, 40};
          const std::string name = observer_name(kind) + "_" + std::to_string(bits) + (symmetric ? "sym" : "asym") +
                                   "_axis" + std::to_string(axis);
          cases.push_back({name, spec, make_batches(shape, 4, seed++)});
        }
      }
    }
  }
  return cases;
}

struct PercentileCase {
  std::string name;
  QuantizerSpec spec;
  Tensor x;
};

std::vector<PercentileCase> percentile_cases() {
  std::vector<PercentileCase> cases;
  // Heavy tails (a few large values) so the percentile clips well inside the range.
  auto with_outliers = [](Tensor x) {
    for (int64_t i = 0; i < x.numel(); i += 97) x.data()[i] *= 25.0f;
    return x;
  };
  uint64_t seed = 7;
  for (double p : {99.0, 99.9, 97.3, 100.0}) {
    for (bool symmetric : {true, false}) {
      for (bool per_channel : {false, true}) {
        QuantizerSpec spec;
        spec.bits = 4;
        spec.symmetric = symmetric;
        spec.observer.kind = ObserverKind::kPercentile;
        spec.observer.percentile = p;
        spec.granularity = per_channel ? GranularitySpec::per_channel(0) : GranularitySpec::per_tensor();
        char name[64];
        std::snprintf(name, sizeof(name), "p%.1f_%s_%s", p, symmetric ? "sym" : "asym", per_channel ? "channel" : "tensor");
        cases.push_back({name, spec, with_outliers(Tensor::randn(Shape{5, 1003}, seed++, 1.3f))});
      }
    }
  }
  QuantizerSpec fp8;  // float formats clip |x| like symmetric ints
  fp8.format = ElementFormat::kFp8E4M3;
  fp8.observer.kind = ObserverKind::kPercentile;
  fp8.observer.percentile = 99.5;
  cases.push_back({"fp8_p99.5", fp8, with_outliers(Tensor::randn(Shape{4, 777}, 99, 2.0f))});
  // Two batches of one asymmetric per-channel quantizer, for the running average.
  QuantizerSpec stream = cases[0].spec;
  stream.symmetric = false;
  stream.granularity = GranularitySpec::per_channel(0);
  stream.observer.percentile = 98.5;
  cases.push_back({"stream_batch0", stream, with_outliers(Tensor::randn(Shape{5, 1003}, 501, 1.0f))});
  cases.push_back({"stream_batch1", stream, with_outliers(Tensor::randn(Shape{5, 1003}, 502, 3.0f))});
  return cases;
}

// One run of the reference script answers every test of this file (starting torch is the slow part).
class ObserverTorchParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TensorFile request;
    for (const auto& c : torch_cases_) put_torch_case(request, c);
    for (const auto& c : percentile_cases_) put_percentile_case(request, c);
    answer_ = new TensorFile(run_torch_script("tests/fakequant/observer_reference.py", request, "fq_observers"));
  }
  static void TearDownTestSuite() {
    delete answer_;
    answer_ = nullptr;
  }
  static void put_torch_case(TensorFile& request, const TorchCase& c);
  static void put_percentile_case(TensorFile& request, const PercentileCase& c);

  static inline const std::vector<TorchCase> torch_cases_ = torch_cases();
  static inline const std::vector<PercentileCase> percentile_cases_ = percentile_cases();
  static inline const TensorFile* answer_ = nullptr;
};

void ObserverTorchParity::put_torch_case(TensorFile& request, const TorchCase& c) {
  const std::string key = "obs/" + c.name + "/";
  const IntFormat format{c.spec.bits, c.spec.symmetric};
  // torch's symmetric scale divides by (quant_max - quant_min) / 2: the restricted range
  // [-qmax, qmax] makes that qmax, the convention of quant_math.h (see min_max_observer.h).
  const double quant_min = c.spec.symmetric ? -format.qmax() : format.qmin();
  const double axis = c.spec.granularity.kind == Granularity::kPerTensor ? -1.0 : c.spec.granularity.axis;
  request.put(key + "config", {7},
              {c.spec.observer.kind == ObserverKind::kMinMax ? 0.0 : 1.0, c.spec.symmetric ? 1.0 : 0.0, axis, quant_min,
               double(format.qmax()), double(c.spec.observer.averaging_constant), double(c.batches.size())});
  for (size_t k = 0; k < c.batches.size(); ++k) {
    request.put(key + "batch" + std::to_string(k), c.batches[k].shape().to_vector(), as_doubles(c.batches[k]));
  }
}

void ObserverTorchParity::put_percentile_case(TensorFile& request, const PercentileCase& c) {
  // Per tensor one row; per channel along axis 0 the rows of x are already the channels.
  const int64_t count = parameter_count(c.x.shape(), c.spec.granularity);
  request.put("pct/" + c.name + "/x", {count, c.x.numel() / count}, as_doubles(c.x));
  request.put("pct/" + c.name + "/config", {2}, {c.spec.observer.percentile, has_symmetric_grid(c.spec) ? 1.0 : 0.0});
}

TEST_F(ObserverTorchParity, MinMaxAndMovingAverageMatchTorchAo) {
  const auto& cases = torch_cases_;
  const TensorFile& answer = *answer_;
  int64_t compared = 0, zero_points_nonzero = 0;
  double worst_scale = 0.0, worst_stat = 0.0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const int64_t count = parameter_count(c.batches[0].shape(), c.spec.granularity);
    const auto observer = make_observer(c.spec, count);
    for (const Tensor& batch : c.batches) observer->observe(batch);
    const QuantParams params = observer->compute_params();
    const auto [mins, maxs] = observer->ranges();
    const std::string key = "obs/" + c.name + "/";
    const auto& scale = answer.tensor(key + "scale").values;
    const auto& zero_point = answer.tensor(key + "zero_point").values;
    const auto& min_val = answer.tensor(key + "min_val").values;
    const auto& max_val = answer.tensor(key + "max_val").values;
    ASSERT_EQ(scale.size(), static_cast<size_t>(count));
    for (int64_t p = 0; p < count; ++p) {
      // Bit-identical float32 arithmetic: the statistics and scales must agree exactly.
      EXPECT_EQ(mins[p], static_cast<float>(min_val[p])) << "parameter " << p;
      EXPECT_EQ(maxs[p], static_cast<float>(max_val[p])) << "parameter " << p;
      EXPECT_EQ(params.scales[p], static_cast<float>(scale[p])) << "parameter " << p;
      EXPECT_EQ(params.zero_points[p], static_cast<int32_t>(zero_point[p])) << "parameter " << p;
      worst_scale = std::max(worst_scale, std::fabs(params.scales[p] - scale[p]) / scale[p]);
      worst_stat = std::max({worst_stat, std::fabs(mins[p] - min_val[p]), std::fabs(maxs[p] - max_val[p])});
      zero_points_nonzero += params.zero_points[p] != 0;
      ++compared;
    }
  }
  std::printf("observers vs torch.ao: %zu cases x 4 batches, %lld parameters, max rel scale diff %.3g, "
              "max abs min/max diff %.3g, %lld non-zero zero points\n",
              cases.size(), static_cast<long long>(compared), worst_scale, worst_stat,
              static_cast<long long>(zero_points_nonzero));
  EXPECT_GT(zero_points_nonzero, 0);
}

TEST_F(ObserverTorchParity, PercentileMatchesNumpyAndTorchQuantile) {
  const auto& cases = percentile_cases_;
  const TensorFile& answer = *answer_;
  double worst_torch = 0.0;
  int64_t compared = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const int64_t count = parameter_count(c.x.shape(), c.spec.granularity);
    const auto observer = make_observer(c.spec, count);
    observer->observe(c.x);
    const auto [low, high] = observer->ranges();
    const std::string key = "pct/" + c.name + "/";
    for (int64_t p = 0; p < count; ++p) {
      // Same double-precision interpolation as numpy, rounded once to float.
      EXPECT_EQ(low[p], static_cast<float>(answer.tensor(key + "numpy_low").values[p])) << "parameter " << p;
      EXPECT_EQ(high[p], static_cast<float>(answer.tensor(key + "numpy_high").values[p])) << "parameter " << p;
      const double torch_low = answer.tensor(key + "torch_low").values[p];
      const double torch_high = answer.tensor(key + "torch_high").values[p];
      const double error = std::max(std::fabs(low[p] - torch_low), std::fabs(high[p] - torch_high)) / std::fabs(torch_high);
      worst_torch = std::max(worst_torch, error);
      EXPECT_EQ(low[p], static_cast<float>(torch_low)) << "vs torch.quantile, parameter " << p;
      EXPECT_EQ(high[p], static_cast<float>(torch_high)) << "vs torch.quantile, parameter " << p;
      ++compared;
    }
    if (c.spec.observer.percentile <= 99.0) {  // 1% of the values are outliers
      float absmax = 0.0f;
      for (int64_t i = 0; i < c.x.numel(); ++i) absmax = std::max(absmax, std::fabs(c.x.data()[i]));
      EXPECT_LT(high[0], 0.6f * absmax);  // the outliers are clipped
    }
  }
  std::printf("percentile vs numpy.percentile and torch.quantile (float64): %lld parameters; max rel diff to torch before rounding to float %.3g\n",
              static_cast<long long>(compared), worst_torch);
}

// Batches combine by an equal-weight running average of their per-batch percentiles.
TEST_F(ObserverTorchParity, PercentileAveragesBatches) {
  const PercentileCase& first = percentile_cases_[percentile_cases_.size() - 2];
  const PercentileCase& second = percentile_cases_.back();
  ASSERT_FALSE(has_symmetric_grid(first.spec));
  const auto observer = make_observer(first.spec, 5);
  observer->observe(first.x);
  observer->observe(second.x);
  const auto [low, high] = observer->ranges();
  for (int64_t p = 0; p < 5; ++p) {
    const auto batch = [&](const PercentileCase& c, const char* side) {
      return static_cast<float>(answer_->tensor("pct/" + c.name + "/numpy_" + side).values[p]);
    };
    const float low0 = batch(first, "low"), high0 = batch(first, "high");
    EXPECT_EQ(low[p], low0 + 0.5f * (batch(second, "low") - low0)) << "parameter " << p;
    EXPECT_EQ(high[p], high0 + 0.5f * (batch(second, "high") - high0)) << "parameter " << p;
    EXPECT_NE(high[p], high0);
  }
}

}  // namespace
}  // namespace qforge::testing
