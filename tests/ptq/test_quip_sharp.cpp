// QuIP# on one layer (fakequant/hadamard.h, fakequant/formats/e8p.h, ptq/quip_sharp.h) against an independent float64
// reference written for the tests (tests/ptq/quip_sharp_reference.py: dense Hadamard matrices, the E8P
// codebook enumerated from its definition, brute-force nearest codewords): the transforms are orthogonal
// for power-of-two and Kronecker sizes and equal the reference's matrices; all 65536 codewords equal the
// published construction; the fast nearest-codeword search equals brute force; BlockLDLQ gives the
// reference's codes, weights and proxy loss. Then the checks that catch bugs: an identity Hessian is
// nearest rounding of W', and on correlated inputs BlockLDLQ's proxy loss is below nearest rounding's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "fakequant/formats/e8p.h"
#include "ptq/gptq.h"
#include "fakequant/hadamard.h"
#include "ptq/quip_sharp.h"
#include "tests/support/tensor_file.h"
#include "tests/support/torch_runner.h"

namespace qforge::ptq {
using namespace qforge::fakequant;  // E8P codebook and Hadamard transforms
namespace {

using qforge::testing::TensorFile;

std::vector<double> gaussian(size_t n, unsigned seed, double sigma = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<double> v(n);
  for (double& x : v) x = normal(rng);
  return v;
}

double squared_distance(const double* x, uint16_t code) {
  const auto c = e8p_decode(code);
  double d = 0;
  for (int i = 0; i < kE8pDim; ++i) d += (x[i] - c[i]) * (x[i] - c[i]);
  return d;
}

TEST(Hadamard, OrthogonalForPowersOfTwoAndKroneckerSizes) {
  for (int64_t n : {8, 64, 256, 12, 20, 40, 96, 768}) {
    const HadamardTransform t(n);
    double max_identity = 0, max_round_trip = 0;
    std::vector<double> columns(static_cast<size_t>(n * n), 0.0);  // T e_j, j = 0..n-1
    for (int64_t j = 0; j < n; ++j) columns[j * n + j] = 1, t.apply(&columns[j * n]);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t k = 0; k < n; ++k) dot += columns[i * n + k] * columns[j * n + k];
        max_identity = std::max(max_identity, std::abs(dot - (i == j)));
      }
    }
    std::vector<double> x = gaussian(static_cast<size_t>(n), 5), y = x;
    t.apply(y.data());
    t.apply(y.data(), true);
    for (int64_t i = 0; i < n; ++i) max_round_trip = std::max(max_round_trip, std::abs(y[i] - x[i]));
    std::printf("n %4lld (K %2lld): max |T^T T - I| %.1e, round trip %.1e\n", static_cast<long long>(n),
                static_cast<long long>(hadamard_factor(n)), max_identity, max_round_trip);
    EXPECT_LT(max_identity, 1e-12) << n;
    EXPECT_LT(max_round_trip, 1e-12) << n;
  }
  EXPECT_EQ(hadamard_factor(768), 12);
  EXPECT_EQ(hadamard_factor(40), 20);
  EXPECT_THROW(hadamard_factor(36), std::invalid_argument);  // 36 = 9 * 4: no Paley order
  for (int64_t k : {12, 20}) {
    const auto h = paley_hadamard(k);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        int dot = 0;
        for (int64_t c = 0; c < k; ++c) dot += h[i * k + c] * h[j * k + c];
        EXPECT_EQ(dot, i == j ? k : 0) << k;
      }
  }
}

TEST(Hadamard, RandomSignsAreSeededAndBalanced) {
  const auto a = random_signs(4096, 3), b = random_signs(4096, 3), c = random_signs(4096, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  int sum = 0;
  for (int8_t s : a) {
    sum += s;
    EXPECT_TRUE(s == 1 || s == -1);
  }
  EXPECT_LT(std::abs(sum), 4 * 64);  // 4 sigma of a sum of 4096 fair signs
}

TEST(E8p, NearestCodewordEqualsBruteForce) {
  const std::vector<float>& table = e8p_codebook();
  int checked = 0, ties = 0;
  for (double sigma : {0.3, 1.03, 2.5}) {
    const std::vector<double> x = gaussian(150 * kE8pDim, 11 + static_cast<unsigned>(sigma * 10), sigma);
    for (size_t v = 0; v < x.size(); v += kE8pDim, ++checked) {
      double best = 1e300;
      int best_code = 0;
      for (int c = 0; c < kE8pCodes; ++c) {
        double d = 0;
        for (int i = 0; i < kE8pDim; ++i) d += (x[v + i] - table[c * kE8pDim + i]) * (x[v + i] - table[c * kE8pDim + i]);
        if (d < best) best = d, best_code = c;
      }
      const uint16_t got = e8p_nearest(&x[v]);
      ties += got != best_code;
      EXPECT_NEAR(squared_distance(&x[v], got), best, 1e-12) << "vector " << v / kE8pDim;
    }
  }
  std::printf("%d vectors: nearest codeword distance equals brute force, %d ties resolved differently\n", checked, ties);
  EXPECT_EQ(ties, 0);
  // A codeword is its own nearest codeword.
  for (int c = 0; c < kE8pCodes; c += 97) {
    const auto v = e8p_decode(static_cast<uint16_t>(c));
    EXPECT_EQ(e8p_nearest(v.data()), c);
  }
}

struct LayerCase {
  std::string name;
  int64_t rows, cols, tokens;
  int tune = 0;
};

// Inputs with correlated, unequally scaled columns, so the Hessian has off-diagonal mass.
std::vector<double> hessian_for(const LayerCase& c, unsigned seed) {
  const std::vector<double> z = gaussian(static_cast<size_t>(c.tokens * c.cols), seed);
  const std::vector<double> mix = gaussian(static_cast<size_t>(c.cols * c.cols), seed + 1, 0.3);
  std::vector<float> x(static_cast<size_t>(c.tokens * c.cols));
  for (int64_t t = 0; t < c.tokens; ++t)
    for (int64_t j = 0; j < c.cols; ++j) {
      double v = z[t * c.cols + j] * (1.0 + j % 5);
      for (int64_t k = 0; k < c.cols; ++k) v += z[t * c.cols + k] * mix[k * c.cols + j];
      x[t * c.cols + j] = static_cast<float>(v);
    }
  HessianAccumulator h(c.cols);
  h.add(x);
  return h.matrix();
}

TEST(QuipSharp, CodebookAndBlockLdlqMatchTheFloat64Reference) {
  const std::vector<LayerCase> cases = {{"r24_c96", 24, 96, 300}, {"r32_c64", 32, 64, 200}, {"r40_c40", 40, 40, 150},
                                         {"r24_c96_tune2", 24, 96, 300, 2}};
  TensorFile request;
  request.put("codebook", {1}, {1.0});
  std::map<std::string, std::pair<std::vector<float>, std::vector<double>>> inputs;
  unsigned seed = 21;
  for (const LayerCase& c : cases) {
    const std::vector<double> w = gaussian(static_cast<size_t>(c.rows * c.cols), seed++, 0.05);
    auto& [wf, h] = inputs[c.name];
    wf.assign(w.begin(), w.end());
    h = hessian_for(c, seed++);
    request.put(c.name + "/w", {c.rows, c.cols}, std::vector<double>(wf.begin(), wf.end()));
    request.put(c.name + "/h", {c.cols, c.cols}, h);
    const auto su = random_signs(c.cols, 7), sv = random_signs(c.rows, 8);
    request.put(c.name + "/su", {c.cols}, std::vector<double>(su.begin(), su.end()));
    request.put(c.name + "/sv", {c.rows}, std::vector<double>(sv.begin(), sv.end()));
    request.put(c.name + "/config", {3}, {0.01, kE8pOptScale, static_cast<double>(c.tune)});
  }
  const TensorFile answer = qforge::testing::run_torch_script("tests/ptq/quip_sharp_reference.py", request, "quip_sharp");

  const auto& ref_table = answer.tensor("codebook").values;
  const std::vector<float>& table = e8p_codebook();
  int64_t differ = 0;
  for (size_t i = 0; i < table.size(); ++i) differ += table[i] != ref_table[i];
  EXPECT_EQ(differ, 0) << "codeword entries differing from the published construction";
  const auto& ref_rows = answer.tensor("abs_rows").values;
  for (int a = 0; a < 256; ++a)
    for (int i = 0; i < kE8pDim; ++i) EXPECT_EQ(e8p_abs_rows()[a][i], 2 * ref_rows[a * kE8pDim + i]) << "abs row " << a;

  for (const LayerCase& c : cases) {
    const auto& [w, h] = inputs.at(c.name);
    const QuipSharpLayer got = quip_sharp_quantize(w, c.rows, c.cols, h, random_signs(c.cols, 7), random_signs(c.rows, 8),
                                                {.tune_iterations = c.tune});
    const auto& t_ref = answer.tensor(c.name + "/hadamard_in").values;
    const HadamardTransform t(c.cols);
    double t_diff = 0;
    for (int64_t j = 0; j < c.cols; ++j) {
      std::vector<double> e(static_cast<size_t>(c.cols), 0.0);
      e[j] = 1, t.apply(e.data());
      for (int64_t i = 0; i < c.cols; ++i) t_diff = std::max(t_diff, std::abs(e[i] - t_ref[i * c.cols + j]));
    }
    EXPECT_LT(t_diff, 1e-12) << c.name << ": T_in differs from the reference's Kronecker matrix";
    const auto& ref_codes = answer.tensor(c.name + "/codes").values;
    const auto& ref_w = answer.tensor(c.name + "/weight").values;
    int64_t mismatches = 0;
    double w_diff = 0;
    for (size_t i = 0; i < got.codes.size(); ++i) mismatches += got.codes[i] != static_cast<uint16_t>(ref_codes[i]);
    for (size_t i = 0; i < got.weight.size(); ++i) w_diff = std::max(w_diff, std::abs(got.weight[i] - ref_w[i]));
    const double ref_loss = answer.tensor(c.name + "/proxy_loss").values[0];
    const double ref_scale = answer.tensor(c.name + "/wscale").values[0];
    std::printf("%-8s code mismatches %lld of %zu, max weight diff %.2e, Wscale %.6g vs %.6g, proxy loss %.8g vs %.8g\n",
                c.name.c_str(), static_cast<long long>(mismatches), got.codes.size(), w_diff, got.wscale, ref_scale,
                got.proxy_loss, ref_loss);
    EXPECT_EQ(mismatches, 0) << c.name;
    EXPECT_LT(w_diff, 1e-6) << c.name;  // float32 storage of a float64 result
    EXPECT_NEAR(got.wscale, ref_scale, 1e-12 * ref_scale) << c.name;
    EXPECT_NEAR(got.proxy_loss, ref_loss, 1e-9 * ref_loss) << c.name;
    const std::vector<float> again = quip_sharp_dequantize(got, c.rows, c.cols);
    EXPECT_EQ(again, got.weight) << c.name << ": the codes, signs and scale do not rebuild the weight";
  }
}

// Proxy loss tr(E H E^T) of a dense weight against the original, in the original basis.
double proxy_loss(const std::vector<float>& w, const std::vector<float>& q, const std::vector<double>& h, int64_t rows, int64_t cols) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        total += (w[r * cols + i] - q[r * cols + i]) * h[i * cols + j] * (w[r * cols + j] - q[r * cols + j]);
  return total;
}

TEST(QuipSharp, IdentityHessianIsNearestRoundingAndFeedbackHelps) {
  const LayerCase c{"r32_c96", 32, 96, 400};
  const std::vector<double> w64 = gaussian(static_cast<size_t>(c.rows * c.cols), 41, 0.05);
  const std::vector<float> w(w64.begin(), w64.end());
  std::vector<double> identity(static_cast<size_t>(c.cols * c.cols), 0.0);
  for (int64_t j = 0; j < c.cols; ++j) identity[j * c.cols + j] = 1;
  const QuipSharpLayer rtn = quip_sharp_quantize(w, c.rows, c.cols, identity, {});
  // Nearest rounding of W' / Wscale, W' rebuilt here from the weight and the signs.
  const HadamardTransform t_in(c.cols), t_out(c.rows);
  std::vector<double> wp(static_cast<size_t>(c.rows * c.cols));
  for (int64_t r = 0; r < c.rows; ++r) {
    for (int64_t j = 0; j < c.cols; ++j) wp[r * c.cols + j] = w[r * c.cols + j] * rtn.su[j] * rtn.sv[r];
    t_in.apply(&wp[r * c.cols]);
  }
  for (int64_t j = 0; j < c.cols; ++j) {
    std::vector<double> col(static_cast<size_t>(c.rows));
    for (int64_t r = 0; r < c.rows; ++r) col[r] = wp[r * c.cols + j];
    t_out.apply(col.data());
    for (int64_t r = 0; r < c.rows; ++r) wp[r * c.cols + j] = col[r] / rtn.wscale;
  }
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t k = 0; k < c.cols / 8; ++k) EXPECT_EQ(rtn.codes[r * (c.cols / 8) + k], e8p_nearest(&wp[r * c.cols + 8 * k]));

  const std::vector<double> h = hessian_for(c, 43);
  const QuipSharpLayer ldlq = quip_sharp_quantize(w, c.rows, c.cols, h, {});
  const double with_feedback = proxy_loss(w, ldlq.weight, h, c.rows, c.cols), without = proxy_loss(w, rtn.weight, h, c.rows, c.cols);
  std::printf("proxy loss on correlated inputs: BlockLDLQ %.6g, nearest rounding %.6g (%.0f%% lower)\n", with_feedback, without,
              100 * (1 - with_feedback / without));
  EXPECT_LT(with_feedback, 0.9 * without);
}

}  // namespace
}  // namespace qforge::ptq
