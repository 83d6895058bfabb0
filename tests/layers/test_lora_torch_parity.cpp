// One LoRA Linear (dense base with bias, standard scale; packed base, rsLoRA) against a float64
// PyTorch re-implementation of PEFT's lora.Linear (tests/layers/lora_reference.py): output, the
// gradients of x, lora_A and lora_B, and the merged weight.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "autograd/ops.h"
#include "layers/linear.h"
#include "tests/layers/float_rows_weight.h"
#include "tests/support/tensor_file.h"
#include "tests/support/torch_runner.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using layers::Linear;
using layers::LoraOptions;

// float32 against float64 over sums of up to 48 products; the gradients of A sum 12 rows and are
// scaled by alpha / r, so the bound is relative to the reference's largest magnitude:
// max |ours - torch| <= kTolerance * (1 + max |torch|).
constexpr double kTolerance = 2e-6;

std::vector<double> as_doubles(const Tensor& t) { return {t.data(), t.data() + t.numel()}; }

// max |ours - theirs| / (1 + max |theirs|)
double scaled_diff(const Tensor& ours, const TensorRecord& theirs) {
  EXPECT_EQ(ours.shape().to_vector(), theirs.dims);
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < ours.numel() && i < static_cast<int64_t>(theirs.values.size()); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(ours.data()[i]) - theirs.values[i]));
    scale = std::max(scale, std::abs(theirs.values[i]));
  }
  return worst / (1 + scale);
}

struct Case {
  std::string name;
  std::shared_ptr<Linear> layer;
  Variable x;
  Tensor upstream, base_weight;
  LoraOptions options;
};

Case make_case(const std::string& name, bool packed, bool rslora) {
  Case c;
  c.name = name;
  c.options = LoraOptions{.rank = 6, .alpha = 12, .rslora = rslora, .seed = packed ? 3u : 4u};
  Linear dense(48, 20, !packed, packed ? 1 : 2);
  c.base_weight = dense.weight().data().clone();
  c.layer = packed ? std::make_shared<Linear>(std::make_shared<FloatRowsWeight>(c.base_weight))
                   : std::make_shared<Linear>(48, 20, true, 2);
  c.layer->add_lora(c.options);
  Variable b = c.layer->lora_B()->weight();
  const Tensor values = Tensor::randn(b.shape(), packed ? 5 : 6, 0.4f);
  std::memcpy(b.mutable_data().data(), values.data(), values.numel() * sizeof(float));
  c.x = Variable(Tensor::randn(Shape{3, 4, 48}, packed ? 7 : 8), true);
  c.upstream = Tensor::randn(Shape{3, 4, 20}, packed ? 9 : 10);
  return c;
}

void put_case(TensorFile& request, const Case& c) {
  request.put(c.name + "/weight", c.base_weight.shape().to_vector(), as_doubles(c.base_weight));
  if (c.layer->bias().defined()) request.put(c.name + "/bias", {20}, as_doubles(c.layer->bias().data()));
  for (const char* part : {"lora_A", "lora_B"}) {
    const Tensor& w = (std::string(part) == "lora_A" ? c.layer->lora_A() : c.layer->lora_B())->weight().data();
    request.put(c.name + "/" + part + ".weight", w.shape().to_vector(), as_doubles(w));
  }
  request.put(c.name + "/x", c.x.shape().to_vector(), as_doubles(c.x.data()));
  request.put(c.name + "/upstream", c.upstream.shape().to_vector(), as_doubles(c.upstream));
  request.put(c.name + "/alpha", {}, {c.options.alpha});
  request.put(c.name + "/rslora", {}, {c.options.rslora ? 1.0 : 0.0});
}

TEST(LoraTorchParity, ForwardBackwardAndMergeMatchPeft) {
  std::vector<Case> cases = {make_case("dense_bias", false, false), make_case("packed_rslora", true, true)};
  TensorFile request;
  for (const Case& c : cases) put_case(request, c);
  const TensorFile answer = run_torch_script("tests/layers/lora_reference.py", request, "lora");
  for (Case& c : cases) {
    ASSERT_FALSE(answer.has(c.name + "/error")) << answer.text(c.name + "/error");
    Variable y = c.layer->forward(c.x);
    y.backward(c.upstream);
    const double ey = scaled_diff(y.data(), answer.tensor(c.name + "/y"));
    const double ex = scaled_diff(c.x.grad(), answer.tensor(c.name + "/grad/x"));
    const double ea = scaled_diff(c.layer->lora_A()->weight().grad(), answer.tensor(c.name + "/grad/lora_A.weight"));
    const double eb = scaled_diff(c.layer->lora_B()->weight().grad(), answer.tensor(c.name + "/grad/lora_B.weight"));
    c.layer->merge_lora();
    const double em = scaled_diff(c.layer->weight().data(), answer.tensor(c.name + "/merged_weight"));
    std::printf("[lora torch %-13s] max abs diff / (1 + max |torch|): y %.2e, dx %.2e, dA %.2e, dB %.2e, merged W %.2e (tolerance %.0e)\n",
                c.name.c_str(), ey, ex, ea, eb, em, kTolerance);
    EXPECT_LE(ey, kTolerance);
    EXPECT_LE(ex, kTolerance);
    EXPECT_LE(ea, kTolerance);
    EXPECT_LE(eb, kTolerance);
    EXPECT_LE(em, kTolerance);
  }
}

}  // namespace
}  // namespace qforge::testing
