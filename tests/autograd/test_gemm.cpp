// Tests for qforge's sgemm kernel against a naive double-precision reference.
#include "autograd/kernels/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

using qforge::autograd::kernels::gemm;
using qforge::autograd::kernels::gemm_batched;

// Allowed error relative to alpha * sum_p |a_ip||b_pj| (plus |beta c|): float accumulation over
// k terms in any order stays well inside this for the k used here.
constexpr double kRelTol = 1e-5;

struct Shape {
  int64_t m, n, k;
};

struct Layout {
  bool ta, tb;
  int64_t pad_a, pad_b, pad_c;  // extra columns per stored row, to exercise ld > width
};

std::vector<float> random_vec(size_t size, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(size);
  for (float& x : v) x = dist(gen);
  return v;
}

// Checks c against alpha*op(A)*op(B) + beta*c0 (c0 ignored when beta == 0).
void expect_matches(const Shape& s, const Layout& l, float alpha, float beta, const float* a, int64_t lda,
                    const float* b, int64_t ldb, const float* c0, const float* c, int64_t ldc) {
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      double ref = 0.0, mag = 0.0;
      for (int64_t p = 0; p < s.k; ++p) {
        const double av = l.ta ? a[p * lda + i] : a[i * lda + p];
        const double bv = l.tb ? b[j * ldb + p] : b[p * ldb + j];
        ref += av * bv;
        mag += std::abs(av * bv);
      }
      ref *= alpha;
      mag *= std::abs(alpha);
      if (beta != 0.0f) {
        ref += static_cast<double>(beta) * c0[i * ldc + j];
        mag += std::abs(static_cast<double>(beta) * c0[i * ldc + j]);
      }
      const double got = c[i * ldc + j];
      ASSERT_NEAR(got, ref, kRelTol * mag + 1e-30) << "at (" << i << ", " << j << ")";
    }
  }
}

void run_case(const Shape& s, const Layout& l, float alpha, float beta) {
  SCOPED_TRACE(::testing::Message() << "m=" << s.m << " n=" << s.n << " k=" << s.k << " ta=" << l.ta
                                    << " tb=" << l.tb << " alpha=" << alpha << " beta=" << beta);
  const int64_t a_rows = l.ta ? s.k : s.m, a_cols = l.ta ? s.m : s.k;
  const int64_t b_rows = l.tb ? s.n : s.k, b_cols = l.tb ? s.k : s.n;
  const int64_t lda = a_cols + l.pad_a, ldb = b_cols + l.pad_b, ldc = s.n + l.pad_c;
  const auto a = random_vec(static_cast<size_t>(a_rows * lda), 1);
  const auto b = random_vec(static_cast<size_t>(b_rows * ldb), 2);
  std::vector<float> c0 = random_vec(static_cast<size_t>(s.m * ldc), 3);
  if (beta == 0.0f) c0.assign(c0.size(), std::numeric_limits<float>::quiet_NaN());
  std::vector<float> c = c0;
  gemm(l.ta, l.tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  expect_matches(s, l, alpha, beta, a.data(), lda, b.data(), ldb, c0.data(), c.data(), ldc);
  // Padding columns of C lie outside the product and must be left untouched.
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = s.n; j < ldc; ++j)
      ASSERT_TRUE(std::isnan(c0[i * ldc + j]) ? std::isnan(c[i * ldc + j]) : c[i * ldc + j] == c0[i * ldc + j]);
}

const Shape kShapes[] = {{1, 1, 1}, {7, 13, 5}, {33, 65, 17}, {100, 3, 257}, {257, 129, 300}, {64, 64, 64}, {3, 200, 40}};

class GemmAllTransposes : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(GemmAllTransposes, DenseBetaZeroOverwritesNaN) {
  const auto [ta, tb] = GetParam();
  for (const Shape& s : kShapes) run_case(s, {ta, tb, 0, 0, 0}, 1.0f, 0.0f);
}

TEST_P(GemmAllTransposes, StridedAlphaBetaOne) {
  const auto [ta, tb] = GetParam();
  for (const Shape& s : kShapes) run_case(s, {ta, tb, 3, 5, 7}, 0.75f, 1.0f);
}

TEST_P(GemmAllTransposes, StridedAlphaBetaHalf) {
  const auto [ta, tb] = GetParam();
  for (const Shape& s : kShapes) run_case(s, {ta, tb, 17, 1, 2}, -1.5f, 0.5f);
}

TEST_P(GemmAllTransposes, StridedBetaZeroNaN) {
  const auto [ta, tb] = GetParam();
  for (const Shape& s : kShapes) run_case(s, {ta, tb, 1, 2, 3}, 2.0f, 0.0f);
}

TEST_P(GemmAllTransposes, LargerThanOneCacheBlock) {
  // Crosses the k, n and m blocking boundaries and uses both threads.
  const auto [ta, tb] = GetParam();
  run_case({613, 1100, 801}, {ta, tb, 4, 0, 9}, 1.0f, 0.5f);
}

TEST_P(GemmAllTransposes, TallCrossesRowPanels) {
  // m above one packed A panel (3072 rows); n = 20 is one column tile, so threads split rows.
  const auto [ta, tb] = GetParam();
  run_case({3100, 40, 50}, {ta, tb, 0, 3, 1}, 1.0f, 0.0f);
  run_case({3100, 20, 50}, {ta, tb, 2, 0, 1}, 1.0f, 1.0f);
}

INSTANTIATE_TEST_SUITE_P(Gemm, GemmAllTransposes, ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "T" : "N") +
                                  (std::get<1>(info.param) ? "T" : "N");
                         });

TEST(Gemm, CalledInsideParallelRegion) {
  // Inside an active parallel region gemm must run single-threaded on the calling thread.
  constexpr int kCopies = 4;
  const Shape s{130, 150, 120};
  const auto a = random_vec(static_cast<size_t>(s.m * s.k), 7);
  const auto b = random_vec(static_cast<size_t>(s.k * s.n), 8);
  std::vector<std::vector<float>> c(kCopies, std::vector<float>(static_cast<size_t>(s.m * s.n)));
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < kCopies; ++i)
    gemm(false, false, s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), s.n, 0.0f, c[i].data(), s.n);
  for (int i = 0; i < kCopies; ++i)
    expect_matches(s, {false, false, 0, 0, 0}, 1.0f, 0.0f, a.data(), s.k, b.data(), s.n, nullptr, c[i].data(), s.n);
}

TEST(Gemm, KZeroScalesC) {
  std::vector<float> c = {1.0f, 2.0f, std::numeric_limits<float>::quiet_NaN(), 4.0f};
  gemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, c.data(), 2);
  for (float v : c) EXPECT_EQ(v, 0.0f);
  c = {1.0f, 2.0f, 3.0f, 4.0f};
  gemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2);
  EXPECT_EQ(c[3], 2.0f);
}

void run_batched(bool share_a, bool ta, bool tb, const Shape& s, int64_t batch, float beta) {
  SCOPED_TRACE(::testing::Message() << "share_a=" << share_a << " ta=" << ta << " tb=" << tb << " m=" << s.m
                                    << " n=" << s.n << " k=" << s.k << " batch=" << batch);
  const int64_t lda = (ta ? s.m : s.k) + 1, ldb = (tb ? s.k : s.n) + 2, ldc = s.n + 3;
  const int64_t size_a = (ta ? s.k : s.m) * lda, size_b = (tb ? s.n : s.k) * ldb, size_c = s.m * ldc;
  const int64_t stride_a = share_a ? 0 : size_a, stride_b = share_a ? size_b : 0;
  const auto a = random_vec(static_cast<size_t>(share_a ? size_a : size_a * batch), 4);
  const auto b = random_vec(static_cast<size_t>(share_a ? size_b * batch : size_b), 5);
  std::vector<float> c0 = random_vec(static_cast<size_t>(size_c * batch), 6);
  if (beta == 0.0f) c0.assign(c0.size(), std::numeric_limits<float>::quiet_NaN());
  std::vector<float> c = c0;
  gemm_batched(ta, tb, s.m, s.n, s.k, 0.5f, a.data(), lda, stride_a, b.data(), ldb, stride_b, beta, c.data(), ldc,
               size_c, batch);
  for (int64_t i = 0; i < batch; ++i) {
    expect_matches(s, {ta, tb, 0, 0, 0}, 0.5f, beta, a.data() + i * stride_a, lda, b.data() + i * stride_b, ldb,
                   c0.data() + i * size_c, c.data() + i * size_c, ldc);
  }
}

TEST(GemmBatched, SharedOperandSmallProducts) {
  // Small products: parallelised across the batch.
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      run_batched(true, ta, tb, {33, 40, 17}, 9, 0.0f);
      run_batched(false, ta, tb, {33, 40, 17}, 9, 1.0f);
    }
}

TEST(GemmBatched, AttentionLikeShape) { run_batched(false, false, true, {128, 128, 32}, 8, 0.0f); }

TEST(GemmBatched, LargeProductsParallelInside) { run_batched(true, true, false, {300, 260, 180}, 3, 0.5f); }

TEST(GemmBatched, LargeProductsEvenBatch) { run_batched(false, true, true, {200, 170, 150}, 4, 0.0f); }

}  // namespace
