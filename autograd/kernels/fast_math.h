#pragma once
// Vectorisable float math for elementwise kernels. The build has no -ffast-math, so g++ turns
// std::exp/std::tanh/std::erf inside `#pragma omp simd` loops into scalar libm calls (checked with
// g++ 12 -O3 -march=native -fopenmp: `call expf@PLT`, no libmvec). These inline versions use only
// +, *, fma, compares, selects and bit casts, so loops that call them vectorise to AVX-512.
// Internal header: include it from .cpp files only.
#include <bit>
#include <cstdint>
#include <limits>

namespace qforge::autograd::kernels {

// e^x within about 1 ulp (max rel. error ~1.2e-7 on [-87, 88]); Cephes expf polynomial
// (S. Moshier, Cephes Math Library, expf.c) after Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2.
// Returns +inf above 88.72, 0 below -87.33 (flushes the subnormal range) and NaN for NaN.
inline float fast_exp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to the nearest integer
  constexpr float kMax = 88.7228391f, kMin = -87.3365448f;
  const float xc = x > kMax ? kMax : (x < kMin ? kMin : x);
  const float n = (xc * kLog2e + kRound) - kRound;
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = (p * r) * r + r + 1.0f;
  // 2^n from the exponent bits. n is in [-126, 128] after clamping; 2^128 is not a float, so
  // n = 128 (x in (88.38, 88.72]) uses 2^127 * 2.
  const float n_hi = n > 127.0f ? 127.0f : n;
  const float carry = n > 127.0f ? 2.0f : 1.0f;
  const int32_t bits = (static_cast<int32_t>(n_hi) + 127) << 23;
  const float result = er * std::bit_cast<float>(bits) * carry;
  if (x > kMax) return std::numeric_limits<float>::infinity();
  if (x < kMin) return 0.0f;
  return x != x ? x : result;
}

// 1 / (1 + e^-x); exact limits 0 and 1 at the tails.
inline float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

// tanh: Cephes tanhf odd polynomial for |x| < 0.625 (no cancellation near 0), otherwise
// 1 - 2 / (e^{2|x|} + 1) with the sign restored. Max abs. error ~2e-7.
inline float fast_tanh(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = x + x * z * p;
  const float large_abs = 1.0f - 2.0f / (fast_exp(2.0f * ax) + 1.0f);
  const float large = x < 0.0f ? -large_abs : large_abs;
  return ax < 0.625f ? small : large;
}

// erf by Abramowitz & Stegun 7.1.26 (max abs. error 1.5e-7), the same formula PyTorch's
// vectorised CPU erf uses (ATen/cpu/vec/vec512/vec512_float.h).
inline float fast_erf(float x) {
  constexpr float kP = 0.3275911f;
  constexpr float kA1 = 0.254829592f, kA2 = -0.284496736f, kA3 = 1.421413741f, kA4 = -1.453152027f,
                  kA5 = 1.061405429f;
  const float ax = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + kP * ax);
  float p = kA5;
  p = p * t + kA4;
  p = p * t + kA3;
  p = p * t + kA2;
  p = p * t + kA1;
  const float r = 1.0f - p * t * fast_exp(-ax * ax);
  return x < 0.0f ? -r : r;
}

}  // namespace qforge::autograd::kernels
