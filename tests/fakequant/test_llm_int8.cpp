// LLM.int8()'s decomposition as an input format (fake_quant_dynamic with spec.outlier_threshold): a Linear with
// int8:channel weights and int8:token:outlier<t> inputs computes the decomposed product of the numpy reference
// tests/fakequant/llm_int8_reference.py (same outlier columns, the same decomposed input bit for bit, outputs
// within float32 matmul rounding of the reference's integer-accumulated float64 product), and the decomposition
// is what keeps planted outliers from spoiling the other columns' int8 steps. Scheme parsing of "outlier<t>".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "fakequant/fake_quant_op.h"
#include "fakequant/quantizer.h"
#include "layers/linear.h"
#include "tests/support/torch_runner.h"

namespace qforge::fakequant {
namespace {

namespace ag = qforge::autograd;
using qforge::testing::TensorFile;
using ::testing::HasSubstr;

struct Case {
  std::string name;
  float threshold;  // 0: plain vector-wise int8
  int64_t batch = 3, tokens = 16, cols = 64, out = 24;
};

std::vector<Case> cases() { return {{"planted", 6.0f}, {"plain", 0.0f}, {"dense", 1.0f}}; }

// X ~ N(0, 1) [batch, tokens, cols] with outliers planted in columns 3, 17 and 40 (|x| 8..40, as the paper's
// large-magnitude features), |x| exactly 6 in one element of column 50 (an outlier: the rule is >=) and the
// largest float below 6 in column 51 (not one). W ~ N(0, 0.1^2) [out, cols].
struct Data {
  std::vector<float> x, w;
};
Data make_data(const Case& c) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t rows = c.batch * c.tokens;
  Data d{std::vector<float>(static_cast<size_t>(rows * c.cols)), std::vector<float>(static_cast<size_t>(c.out * c.cols))};
  for (float& v : d.x) v = std::clamp(normal(rng), -5.0f, 5.0f);
  for (float& v : d.w) v = 0.1f * normal(rng);
  std::uniform_real_distribution<float> big(8.0f, 40.0f);
  for (const int64_t col : {3, 17, 40}) {
    for (int64_t r = col % 3; r < rows; r += 3) d.x[static_cast<size_t>(r * c.cols + col)] = (r % 2 ? -1.0f : 1.0f) * big(rng);
  }
  d.x[static_cast<size_t>(5 * c.cols + 50)] = -6.0f;
  d.x[static_cast<size_t>(9 * c.cols + 51)] = std::nextafter(6.0f, 0.0f);
  return d;
}

std::string input_scheme(float threshold) {
  return threshold > 0.0f ? "int8:token:" + outlier_token(threshold) : std::string("int8:token");
}

// The Linear of the test: int8 per-channel absmax weight, the case's input scheme, no bias.
std::shared_ptr<layers::Linear> make_linear(const Case& c, const Data& d) {
  auto linear = std::make_shared<layers::Linear>(c.cols, c.out, /*bias=*/false);
  ag::Variable weight = linear->weight();
  std::copy(d.w.begin(), d.w.end(), weight.mutable_data().data());
  auto wq = std::make_shared<Quantizer>(parse_scheme("int8:channel"), QuantizerRole::kWeight, ag::Shape{c.out, c.cols}, "w");
  wq->calibrate_weight(linear->weight().data());
  linear->set_weight_quantizer(wq);
  linear->set_input_quantizer(
      std::make_shared<Quantizer>(parse_scheme(input_scheme(c.threshold)), QuantizerRole::kActivation, ag::Shape{c.cols}, "x"));
  linear->eval();
  return linear;
}

TEST(LlmInt8, DecomposedLinearMatchesTheNumpyReference) {
  TensorFile request;
  for (const Case& c : cases()) {
    const Data d = make_data(c);
    request.put(c.name + "/x", {c.batch * c.tokens, c.cols}, std::vector<double>(d.x.begin(), d.x.end()));
    request.put(c.name + "/w", {c.out, c.cols}, std::vector<double>(d.w.begin(), d.w.end()));
    request.put(c.name + "/threshold", {1}, {static_cast<double>(c.threshold)});
  }
  const TensorFile answer = qforge::testing::run_torch_script("tests/fakequant/llm_int8_reference.py", request, "llm_int8");
  std::map<std::string, double> input_error;  // rms of Y - X dequant(W)^T
  for (const Case& c : cases()) {
    const Data d = make_data(c);
    const int64_t rows = c.batch * c.tokens;
    const auto linear = make_linear(c, d);
    const ag::Variable x(ag::Tensor::from_vector(ag::Shape{c.batch, c.tokens, c.cols}, d.x), false);
    ag::NoGradGuard no_grad;

    // Outlier columns: the planted three plus column 50 (|x| == 6) when t = 6; none without a threshold.
    const auto& ref_outliers = answer.tensor(c.name + "/outliers").values;
    const std::vector<uint8_t> outliers =
        c.threshold > 0 ? outlier_columns(d.x.data(), rows, c.cols, c.threshold) : std::vector<uint8_t>(c.cols, 0);
    int64_t count = 0;
    for (int64_t j = 0; j < c.cols; ++j) {
      EXPECT_EQ(outliers[j], static_cast<uint8_t>(ref_outliers[j])) << c.name << " column " << j;
      count += outliers[j];
    }
    if (c.name == "planted") EXPECT_EQ(count, 4);
    if (c.name == "dense") EXPECT_GT(count, c.cols / 2);

    // The decomposed input, element for element.
    const std::vector<float> x_q = linear->input_quantizer()->forward(x).data().to_vector();
    const auto& ref_x_q = answer.tensor(c.name + "/x_q").values;
    int64_t mismatches = 0;
    for (size_t i = 0; i < x_q.size(); ++i) mismatches += static_cast<double>(x_q[i]) != ref_x_q[i];
    EXPECT_EQ(mismatches, 0) << c.name;

    // The output: the reference accumulates the int8 part in integers, qforge multiplies dequantized floats.
    const std::vector<float> y = linear->forward(x).data().to_vector();
    const auto& ref_y = answer.tensor(c.name + "/y").values;
    const auto& float_x = answer.tensor(c.name + "/y_float_x").values;  // the same weight, float input
    double diff = 0, scale = 0, err = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      diff = std::max(diff, std::abs(y[i] - ref_y[i]));
      scale = std::max(scale, std::abs(ref_y[i]));
      err += (ref_y[i] - float_x[i]) * (ref_y[i] - float_x[i]);
    }
    input_error[c.name] = std::sqrt(err / static_cast<double>(y.size()));
    std::printf("%-8s outlier columns %lld of %lld, input mismatches %lld, max |y - ref| %.2e (max |y| %.3g), "
                "rms error of the input quantization %.3e\n",
                c.name.c_str(), static_cast<long long>(count), static_cast<long long>(c.cols),
                static_cast<long long>(mismatches), diff, scale, input_error[c.name]);
    EXPECT_LT(diff, 2e-6 * scale) << c.name;  // float32 matmul rounding over 64 terms
  }
  // Without the decomposition the planted outliers set every row's step; with it the step comes from the
  // regular values (the paper's argument, §3.3). More FP16 columns (t = 1) only remove more int8 error.
  EXPECT_GT(input_error["plain"], 4.0 * input_error["planted"]);
  EXPECT_LT(input_error["dense"], input_error["planted"]);
}

TEST(LlmInt8, ThresholdAboveEveryValueIsPlainVectorWiseInt8) {
  const Case c{"planted", 6.0f};
  const Data d = make_data(c);
  Case huge = c, plain = c;
  huge.threshold = 1e9f, plain.threshold = 0.0f;
  const ag::Variable x(ag::Tensor::from_vector(ag::Shape{c.batch, c.tokens, c.cols}, d.x), false);
  ag::NoGradGuard no_grad;
  EXPECT_EQ(make_linear(huge, d)->forward(x).data().to_vector(), make_linear(plain, d)->forward(x).data().to_vector());
}

TEST(LlmInt8, GradientIsStraightThrough) {
  const Case c{"planted", 6.0f};
  const Data d = make_data(c);
  const ag::Variable x(ag::Tensor::from_vector(ag::Shape{c.batch * c.tokens, c.cols}, d.x), true);
  ag::Variable y = fake_quant_dynamic(x, parse_scheme("int8:token:outlier6"));
  y.backward(ag::Tensor::from_vector(y.shape(), std::vector<float>(static_cast<size_t>(y.numel()), 1.5f)));
  for (const float g : x.grad().to_vector()) ASSERT_EQ(g, 1.5f);
}

TEST(LlmInt8, SchemeToken) {
  EXPECT_EQ(parse_scheme("int8:token:outlier6").outlier_threshold, 6.0f);
  EXPECT_EQ(parse_scheme("int8:outlier2.5:token").outlier_threshold, 2.5f);
  EXPECT_EQ(parse_scheme("int8:token").outlier_threshold, 0.0f);
  EXPECT_EQ(outlier_token(6.0f), "outlier6");
  EXPECT_EQ(outlier_token(0.5f), "outlier0.5");
  for (const float t : {6.0f, 0.1f, 1e9f, 3.3333333f}) {
    EXPECT_EQ(parse_scheme("int8:token:" + outlier_token(t)).outlier_threshold, t) << outlier_token(t);
  }
  EXPECT_THAT(parse_scheme("int8:token:outlier6").describe(), HasSubstr("per-token outliers>=6-fp16"));
  for (const char* bad : {"int8:token:outlier", "int8:token:outlier0", "int8:token:outlier-1", "int8:token:outlierx",
                          "int8:token:outlier6x", "int8:token:outlierinf"}) {
    EXPECT_THROW(parse_scheme(bad), std::invalid_argument) << bad;
  }
  try {
    parse_scheme("int8:channel:outlier6");
    ADD_FAILURE() << "a static scale with outlier columns was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("need dynamic per-token scales"));
  }
}

}  // namespace
}  // namespace qforge::fakequant
