// Every op case's values and gradients against PyTorch (Debian's python3-torch, float64) on the
// same inputs. One Python process serves all cases: the inputs go out in one file, PyTorch's
// outputs and gradients come back in another.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "tests/autograd/op_cases.h"
#include "tests/support/tensor_file.h"
#include "tests/support/torch_runner.h"

namespace qforge::testing {
namespace {

using autograd::Tensor;

uint64_t case_seed(const std::string& name) { return std::hash<std::string>{}(name) & 0xffffffffu; }

std::vector<double> as_doubles(const Tensor& t) { return {t.data(), t.data() + t.numel()}; }

std::string kinds_of(const OpCase& c) {
  std::string kinds;
  for (const auto& spec : c.inputs) kinds += spec.kind == InputKind::kIndex ? 'i' : spec.kind == InputKind::kConstant ? 'c' : 'f';
  return kinds;
}

// Writes every case's inputs, runs the reference script once, loads its answers.
const TensorFile& torch_results() {
  static const TensorFile results = [] {
    TensorFile request;
    for (const OpCase& c : op_case_registry()) {
      const CaseInputs inputs = make_inputs(c, case_seed(c.name));
      request.put_text(c.name + "/expr", c.torch);
      request.put_text(c.name + "/kinds", kinds_of(c));
      for (size_t i = 0; i < inputs.values.size(); ++i) {
        request.put(c.name + "/x" + std::to_string(i), inputs[i].shape().to_vector(), as_doubles(inputs[i].data()));
      }
      autograd::NoGradGuard no_grad;
      const Shape out_shape = c.run(inputs).shape();
      request.put(c.name + "/upstream", out_shape.to_vector(),
                  as_doubles(Tensor::randn(out_shape, case_seed(c.name) + 1)));
    }
    return run_torch_script("tests/torch_reference.py", request, "torch");
  }();
  return results;
}

struct Discrepancy {
  double max_abs = 0.0, max_rel = 0.0, scaled = 0.0;
};

Discrepancy compare(const Tensor& ours, const TensorRecord& theirs, const std::string& what) {
  EXPECT_EQ(ours.shape().to_vector(), theirs.dims) << what << ": shape differs from PyTorch";
  Discrepancy d;
  if (static_cast<size_t>(ours.numel()) != theirs.values.size()) return d;
  for (int64_t i = 0; i < ours.numel(); ++i) {
    const double diff = std::abs(static_cast<double>(ours.data()[i]) - theirs.values[i]);
    d.max_abs = std::max(d.max_abs, diff);
    d.max_rel = std::max(d.max_rel, diff / std::max(1e-12, std::abs(theirs.values[i])));
    d.scaled = std::max(d.scaled, diff / (1.0 + std::abs(theirs.values[i])));
  }
  return d;
}

class TorchParity : public ::testing::TestWithParam<size_t> {};

TEST_P(TorchParity, ValuesAndGradientsMatch) {
  const OpCase& c = op_case_registry()[GetParam()];
  const TensorFile& answer = torch_results();
  ASSERT_FALSE(answer.has(c.name + "/error")) << c.name << ": PyTorch raised: " << answer.text(c.name + "/error");
  CaseInputs inputs = make_inputs(c, case_seed(c.name));
  Variable out = c.run(inputs);
  out.backward(Tensor::randn(out.shape(), case_seed(c.name) + 1));

  const Discrepancy value = compare(out.data(), answer.tensor(c.name + "/out"), c.name + " output");
  std::printf("[torch] %-32s out  max_abs %.2e max_rel %.2e\n", c.name.c_str(), value.max_abs, value.max_rel);
  EXPECT_LE(value.scaled, c.torch_tolerance) << c.name << ": output differs from PyTorch";
  for (size_t i = 0; i < inputs.values.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const std::string key = c.name + "/grad" + std::to_string(i);
    const Discrepancy grad = compare(inputs[i].grad(), answer.tensor(key), key);
    std::printf("[torch] %-32s dx%zu  max_abs %.2e max_rel %.2e\n", c.name.c_str(), i, grad.max_abs, grad.max_rel);
    EXPECT_LE(grad.scaled, c.torch_tolerance) << key << ": gradient differs from PyTorch";
  }
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) { return op_case_registry()[info.param].name; }

INSTANTIATE_TEST_SUITE_P(Ops, TorchParity, ::testing::Range<size_t>(0, op_case_registry().size()), case_name);

}  // namespace
}  // namespace qforge::testing
