// SpQR on one layer (ptq/spqr.h) against a float64 NumPy implementation written for the tests
// (tests/ptq/spqr_reference.py: same Hessian batches, damping, act-order, grid, leave-one-out fit,
// statistics quantization and outlier rule, but without lazy batches): identical codes, statistics
// codes, second-order records, permutation and outlier set; the same dequantized weight and layer
// output error. Then: the fraction search stays at or under its target; outliers and small groups beat
// GPTQ's own grid on the layer; the fakequant::SpqrWeightQuantizer forward reproduces the result.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "fakequant/spqr_weight.h"
#include "ptq/gptq.h"
#include "ptq/spqr.h"
#include "tests/support/tensor_file.h"
#include "tests/support/torch_runner.h"

namespace qforge::ptq {
namespace {

using qforge::testing::TensorFile;

struct Case {
  std::string name;
  int64_t rows, cols, tokens;
  SpqrOptions options;
  bool dead_input = false;
};

struct Data {
  std::vector<float> w, x;
};

// Correlated, unequally scaled inputs and a weight with a few large entries (outlier candidates).
Data make_data(const Case& c, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Data d;
  d.w.resize(static_cast<size_t>(c.rows * c.cols));
  for (float& v : d.w) v = 0.1f * normal(rng);
  for (int k = 0; k < 12; ++k) d.w[rng() % d.w.size()] *= 8.0f;
  std::vector<float> mix(static_cast<size_t>(c.cols * c.cols)), scale(static_cast<size_t>(c.cols));
  for (float& v : mix) v = normal(rng) / std::sqrt(static_cast<float>(c.cols));
  for (int64_t j = 0; j < c.cols; ++j) scale[j] = 0.2f + 2.0f * static_cast<float>(rng() % 1000) / 1000.0f;
  d.x.assign(static_cast<size_t>(c.tokens * c.cols), 0.0f);
  for (int64_t t = 0; t < c.tokens; ++t) {
    std::vector<float> z(static_cast<size_t>(c.cols));
    for (float& v : z) v = normal(rng);
    for (int64_t j = 0; j < c.cols; ++j) {
      float s = z[j];
      for (int64_t k = 0; k < c.cols; ++k) s += 0.7f * z[k] * mix[k * c.cols + j];
      d.x[t * c.cols + j] = c.dead_input && j == 5 ? 0.0f : scale[j] * s;
    }
  }
  return d;
}

std::vector<int64_t> batches(int64_t tokens) {
  std::vector<int64_t> out;
  for (int64_t done = 0, k = 0; done < tokens; ++k) {
    out.push_back(std::min<int64_t>(k % 2 ? 13 : 7, tokens - done));
    done += out.back();
  }
  return out;
}

std::vector<double> hessian_of(const Case& c, const Data& d) {
  HessianAccumulator h(c.cols);
  int64_t start = 0;
  for (int64_t count : batches(c.tokens)) {
    h.add(std::span<const float>(d.x).subspan(static_cast<size_t>(start * c.cols), static_cast<size_t>(count * c.cols)));
    start += count;
  }
  return h.matrix();
}

// Σ over tokens and outputs of ((W - Q) x)^2.
template <typename T>
double output_error(const Case& c, const Data& d, const std::vector<T>& q) {
  double total = 0;
  for (int64_t t = 0; t < c.tokens; ++t) {
    for (int64_t r = 0; r < c.rows; ++r) {
      double e = 0;
      for (int64_t j = 0; j < c.cols; ++j) e += (static_cast<double>(d.w[r * c.cols + j]) - q[r * c.cols + j]) * d.x[t * c.cols + j];
      total += e * e;
    }
  }
  return total;
}

SpqrOptions options(int bits, int64_t beta1, int64_t beta2, int stat_bits, double threshold, bool act_order, int64_t block) {
  SpqrOptions o;
  o.bits = bits, o.beta1 = beta1, o.beta2 = beta2, o.stat_bits = stat_bits, o.threshold = threshold;
  o.act_order = act_order, o.block_size = block;
  return o;
}

std::vector<Case> cases() {
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {"w3_b16_tau0.2_act_order", 32, 64, 200, options(3, 16, 16, 3, 0.2, true, 32)},
      {"w3_b16_no_outliers", 32, 64, 200, options(3, 16, 16, 3, inf, false, 64)},
      {"w2_partial_rows_dead_input", 24, 48, 150, options(2, 16, 16, 3, 0.1, true, 16), true},
      {"w4_b8_qq2_tau0.5", 16, 40, 120, options(4, 8, 8, 2, 0.5, true, 8)},
  };
}

void put_request(TensorFile& request, const Case& c, const Data& d) {
  request.put(c.name + "/w", {c.rows, c.cols}, std::vector<double>(d.w.begin(), d.w.end()));
  request.put(c.name + "/x", {c.tokens, c.cols}, std::vector<double>(d.x.begin(), d.x.end()));
  std::vector<double> b;
  for (int64_t count : batches(c.tokens)) b.push_back(static_cast<double>(count));
  request.put(c.name + "/batches", {static_cast<int64_t>(b.size())}, b);
  const SpqrOptions& o = c.options;
  request.put(c.name + "/config", {7},
              {static_cast<double>(o.bits), static_cast<double>(o.beta1), static_cast<double>(o.beta2),
               static_cast<double>(o.stat_bits), o.damp, o.act_order ? 1.0 : 0.0, std::isfinite(o.threshold) ? o.threshold : -1.0});
}

template <typename T>
int64_t mismatches(const std::vector<T>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  int64_t n = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) n += static_cast<double>(got[i]) != want[i];
  return n;
}

TEST(Spqr, MatchesTheFloat64NumPyReference) {
  TensorFile request;
  std::map<std::string, Data> data;
  unsigned seed = 11;
  for (const Case& c : cases()) put_request(request, c, data[c.name] = make_data(c, seed++));
  const TensorFile answer = qforge::testing::run_torch_script("tests/ptq/spqr_reference.py", request, "spqr");
  for (const Case& c : cases()) {
    const Data& d = data.at(c.name);
    const auto want = [&](const std::string& n) { return answer.tensor(c.name + "/" + n).values; };
    // The layer algorithm on the reference's Hessian (ours has float32 batch products: ptq/gptq.h).
    const SpqrLayer got = spqr_quantize(d.w, c.rows, c.cols, want("h"), c.options);
    const int64_t codes = mismatches(got.codes, want("codes"));
    EXPECT_EQ(mismatches(got.state.scale_codes, want("scale_codes")), 0) << c.name;
    EXPECT_EQ(mismatches(got.state.zero_codes, want("zero_codes")), 0) << c.name;
    EXPECT_EQ(mismatches(got.state.second_order, want("second_order")), 0) << c.name;
    EXPECT_EQ(mismatches(got.state.permutation, want("perm")), 0) << c.name;
    EXPECT_EQ(mismatches(got.state.outliers, want("outliers")), 0) << c.name;
    double q_diff = 0;
    const auto ref_q = want("q");
    for (size_t i = 0; i < got.weight.size(); ++i) q_diff = std::max(q_diff, std::abs(got.weight[i] - ref_q[i]) / (1 + std::abs(ref_q[i])));
    const double err = output_error(c, d, got.weight), ref_err = output_error(c, d, ref_q);
    std::printf("%-28s code mismatches %lld of %zu, outliers %zu (%.2f%%), threshold %.4g vs %.4g, max weight diff %.1e, "
                "output error %.6g vs %.6g\n", c.name.c_str(), static_cast<long long>(codes), got.codes.size(),
                got.state.outliers.size(), 100 * got.outlier_fraction(), got.threshold, want("threshold")[0], q_diff, err, ref_err);
    EXPECT_EQ(codes, 0) << c.name;
    EXPECT_LT(q_diff, 1e-6) << c.name;
    EXPECT_NEAR(err, ref_err, 1e-4 * ref_err) << c.name;
    if (std::isfinite(c.options.threshold)) {
      EXPECT_NEAR(got.threshold, want("threshold")[0], 1e-9 * got.threshold) << c.name;
      EXPECT_GT(got.state.outliers.size(), 0u) << c.name << ": the case does not exercise outliers";
    }
  }
}

TEST(Spqr, FractionSearchStaysAtItsTargetAndOutliersHelp) {
  const Case c{"w3", 32, 64, 200, options(3, 16, 16, 3, std::numeric_limits<double>::infinity(), true, 32)};
  const Data d = make_data(c, 5);
  const std::vector<double> h = hessian_of(c, d);
  const SpqrLayer none = spqr_quantize_to_fraction(d.w, c.rows, c.cols, h, c.options, 0.0);
  const SpqrLayer one = spqr_quantize_to_fraction(d.w, c.rows, c.cols, h, c.options, 0.01);
  const SpqrLayer five = spqr_quantize_to_fraction(d.w, c.rows, c.cols, h, c.options, 0.05);
  const double e_none = output_error(c, d, none.weight), e_one = output_error(c, d, one.weight), e_five = output_error(c, d, five.weight);
  // GPTQ on int3 with the same groups (in its own contiguous order, fp32 scales, integer zeros).
  const double e_gptq = output_error(c, d, gptq_quantize(d.w, c.rows, c.cols, h, {3, false, 16}, {0.01, 32, true, true}).weight);
  std::printf("w3 b16 layer output error: no outliers %.5g, %.2f%% outliers %.5g, %.2f%% outliers %.5g; GPTQ act-order int3 g16 %.5g\n",
              e_none, 100 * one.outlier_fraction(), e_one, 100 * five.outlier_fraction(), e_five, e_gptq);
  EXPECT_TRUE(none.state.outliers.empty());
  EXPECT_LE(one.outlier_fraction(), 0.01);
  EXPECT_GE(one.outlier_fraction(), 0.005);
  EXPECT_LE(five.outlier_fraction(), 0.05);
  EXPECT_GE(five.outlier_fraction(), 0.04);
  EXPECT_LT(e_one, e_none);
  EXPECT_LT(e_five, e_one);
  EXPECT_NEAR(spqr_bits_per_weight(c.options, 0.01), 3 + 6.0 / 16 + 64.0 / 256 + 0.32, 1e-12);
}

TEST(Spqr, TheWeightQuantizerForwardIsTheLayer) {
  // The model's representation (fakequant/spqr_weight.h) rebuilt from the state gives back the layer's
  // values from its latent weight, codes included; a different latent weight is re-rounded onto the grid.
  const Case c{"w3", 32, 64, 200, options(3, 16, 16, 3, 0.2, true, 32)};
  const Data d = make_data(c, 9);
  const SpqrLayer layer = spqr_quantize(d.w, c.rows, c.cols, hessian_of(c, d), c.options);
  ASSERT_FALSE(layer.state.outliers.empty());
  fakequant::SpqrWeightQuantizer quantizer(layer.state);
  autograd::Tensor latent(autograd::Shape{c.rows, c.cols});
  std::copy(layer.weight.begin(), layer.weight.end(), latent.data());
  const autograd::Tensor out = quantizer.forward(autograd::Variable(latent)).data();
  EXPECT_EQ(out.to_vector(), latent.to_vector());
  const std::vector<int64_t> codes = quantizer.codes(latent);
  std::vector<bool> outlier(layer.weight.size(), false);
  for (int64_t i : layer.state.outliers) outlier[i] = true;
  for (size_t i = 0; i < codes.size(); ++i)
    if (!outlier[i]) ASSERT_EQ(codes[i], layer.codes[i]) << i;
  std::copy(d.w.begin(), d.w.end(), latent.data());  // the float weight: rounded, outliers passed through
  const autograd::Tensor rounded = quantizer.forward(autograd::Variable(latent)).data();
  for (int64_t i : layer.state.outliers) EXPECT_EQ(rounded.data()[i], d.w[i]);
  EXPECT_NE(rounded.to_vector(), latent.to_vector());
  fakequant::SpqrState bad = layer.state;
  bad.permutation[0] = bad.permutation[1];
  EXPECT_THAT([&] { fakequant::SpqrWeightQuantizer q(bad); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("not a permutation")));
  EXPECT_THAT([&] { spqr_quantize(d.w, c.rows, c.cols, hessian_of(c, d), options(3, 16, 16, 3, 0.2, true, 24)); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("block 24 is not a positive multiple of beta1 16")));
}

}  // namespace
}  // namespace qforge::ptq
