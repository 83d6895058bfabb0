// Overhead of the FakeQuant op: forward + backward on a 4096 x 4096 tensor for several specs,
// against relu (the cheapest elementwise op with a backward) on the same tensor. Prints the median
// of repeated runs and the ratio to relu. Usage: fake_quant_step [reps] [rows] [cols].
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <omp.h>

#include "autograd/ops.h"
#include "fakequant/fake_quant_op.h"
#include "fakequant/int_quantizer.h"

using namespace qforge;
using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using fakequant::QuantizerSpec;

namespace {

struct Timing {
  double median = 0.0, best = 0.0;
};

Timing time_ms(int reps, const std::function<void()>& step) {
  step();  // warm-up: page faults of fresh buffers
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    step();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.front()};
}

QuantizerSpec spec_of(const std::string& scheme, fakequant::Estimator estimator) {
  QuantizerSpec spec = fakequant::parse_scheme(scheme);
  spec.estimator = estimator;
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 9;
  const int64_t rows = argc > 2 ? std::atoll(argv[2]) : 4096, cols = argc > 3 ? std::atoll(argv[3]) : 4096;
  const Shape shape{rows, cols};
  Variable x(Tensor::randn(shape, 1, 1.0f), true);
  const Tensor dy = Tensor::randn(shape, 2, 1.0f);
  std::printf("fake_quant forward+backward on [%lld, %lld], %d threads, median and best of %d (ms, ratio to relu)\n",
              static_cast<long long>(rows), static_cast<long long>(cols), omp_get_max_threads(), reps);

  const Timing relu = time_ms(reps, [&] {
    x.zero_grad();
    autograd::relu(x).backward(dy);
  });
  std::printf("  %-40s %9s %6s %9s %6s\n", "", "median", "ratio", "best", "ratio");
  std::printf("  %-40s %9.2f %6.2f %9.2f %6.2f\n", "relu (baseline)", relu.median, 1.0, relu.best, 1.0);

  using fakequant::Estimator;
  const std::vector<std::pair<std::string, QuantizerSpec>> cases = {
      {"int8 per-tensor ste", spec_of("int8:tensor", Estimator::kSte)},
      {"int8 per-tensor clipped_ste", spec_of("int8:tensor", Estimator::kClippedSte)},
      {"int8 per-tensor lsq", spec_of("int8:tensor", Estimator::kLsq)},
      {"int8 asym per-tensor lsq_plus", spec_of("int8:tensor:asym", Estimator::kLsqPlus)},
      {"int8 per-tensor pact", spec_of("int8:tensor:asym", Estimator::kPact)},
      {"int4 per-channel(0) lsq", spec_of("int4:channel0", Estimator::kLsq)},
      {"int4 per-channel(1) lsq", spec_of("int4:channel1", Estimator::kLsq)},
      {"int4 per-channel(1) clipped_ste", spec_of("int4:channel1", Estimator::kClippedSte)},
      {"int4 g128 clipped_ste", spec_of("int4:g128", Estimator::kClippedSte)},
      {"int4 g128 lsq", spec_of("int4:g128", Estimator::kLsq)},
      {"fp8_e4m3 per-channel(0) clipped_ste", spec_of("fp8_e4m3:channel0", Estimator::kClippedSte)},
      {"fp8_e4m3 per-tensor lsq", spec_of("fp8_e4m3:tensor", Estimator::kLsq)},
      {"fp4_e2m1 g32 clipped_ste", spec_of("fp4_e2m1:g32", Estimator::kClippedSte)},
      {"nf4 g64 clipped_ste", spec_of("nf4:g64", Estimator::kClippedSte)},
      {"bf16 ste", spec_of("bf16:tensor", Estimator::kSte)},
      {"int8 dynamic per-token clipped_ste", spec_of("int8:token", Estimator::kClippedSte)},
  };
  for (const auto& [name, spec] : cases) {
    const int64_t count = fakequant::parameter_count(shape, spec.granularity);
    const bool learns = spec.estimator != Estimator::kSte && spec.estimator != Estimator::kClippedSte;
    const float scale_value = spec.estimator == Estimator::kPact ? 3.0f : (spec.format == fakequant::ElementFormat::kInt ? 0.05f : 0.01f);
    Variable scale(Tensor::full(Shape{count}, scale_value), learns);
    Variable zero_point(Tensor::full(Shape{count}, spec.symmetric ? 0.0f : 128.0f), spec.estimator == Estimator::kLsqPlus);
    const Timing t = time_ms(reps, [&] {
      x.zero_grad();
      scale.zero_grad();
      zero_point.zero_grad();
      Variable y = spec.dynamic_per_token ? fakequant::fake_quant_dynamic(x, spec)
                                          : fakequant::fake_quant(x, scale, spec.symmetric ? Variable() : zero_point, spec);
      y.backward(dy);
    });
    std::printf("  %-40s %9.2f %6.2f %9.2f %6.2f\n", name.c_str(), t.median, t.median / relu.median, t.best,
                t.best / relu.best);
  }
  return 0;
}
