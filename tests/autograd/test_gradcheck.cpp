// Every op case's gradient against central finite differences of L = sum(out * upstream).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>

#include "tests/autograd/op_cases.h"

namespace qforge::testing {
namespace {

using autograd::NoGradGuard;
using autograd::Tensor;

uint64_t case_seed(const std::string& name) { return std::hash<std::string>{}(name) & 0xffffffffu; }

double weighted_sum(const Tensor& out, const Tensor& upstream) {
  double total = 0.0;
  for (int64_t i = 0; i < out.numel(); ++i) total += static_cast<double>(out.data()[i]) * upstream.data()[i];
  return total;
}

class GradCheck : public ::testing::TestWithParam<size_t> {};

TEST_P(GradCheck, MatchesCentralDifferences) {
  const OpCase& op_case = op_case_registry()[GetParam()];
  CaseInputs inputs = make_inputs(op_case, case_seed(op_case.name));
  Variable out = op_case.run(inputs);
  const Tensor upstream = Tensor::randn(out.shape(), case_seed(op_case.name) + 1);
  out.backward(upstream);

  double worst = 0.0;
  for (size_t i = 0; i < inputs.values.size(); ++i) {
    Variable& x = inputs.values[i];
    if (!x.requires_grad()) continue;
    const Tensor analytic = x.grad();
    float* data = x.mutable_data().data();
    for (int64_t j = 0; j < x.numel(); ++j) {
      const float original = data[j];
      const float step = static_cast<float>(op_case.fd_step);
      double loss_plus, loss_minus;
      {
        NoGradGuard no_grad;
        data[j] = original + step;
        loss_plus = weighted_sum(op_case.run(inputs).data(), upstream);
        data[j] = original - step;
        loss_minus = weighted_sum(op_case.run(inputs).data(), upstream);
        data[j] = original;
      }
      // Divide by the step actually taken in float arithmetic, not the nominal one.
      const double taken = static_cast<double>(original + step) - static_cast<double>(original - step);
      const double numeric = (loss_plus - loss_minus) / taken;
      const double error = std::abs(numeric - analytic.data()[j]) / (1.0 + std::abs(numeric));
      worst = std::max(worst, error);
      ASSERT_LE(error, op_case.fd_tolerance)
          << op_case.name << ": input " << i << " element " << j << " numeric " << numeric << " analytic "
          << analytic.data()[j];
    }
  }
  std::printf("[gradcheck] %-32s worst scaled error %.2e\n", op_case.name.c_str(), worst);
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  return op_case_registry()[info.param].name;
}

INSTANTIATE_TEST_SUITE_P(Ops, GradCheck, ::testing::Range<size_t>(0, op_case_registry().size()), case_name);

}  // namespace
}  // namespace qforge::testing
