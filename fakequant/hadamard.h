#pragma once
// Randomized Hadamard transforms for QuIP#'s incoherence processing (Tseng et al. 2024, "QuIP#: Even
// Better LLM Quantization with Hadamard Incoherence and Lattice Codebooks", §3, Algorithm 1 "RHT"):
// multiplying a weight on both sides by a random sign diagonal and a normalized Hadamard matrix makes
// it incoherent (its entries roughly Gaussian with no outliers) while the layer function is kept by
// applying the inverse to the input and output.
//
// Sizes: n = K * 2^k. For K = 1 the transform is the fast Walsh-Hadamard transform of the Sylvester
// matrix; otherwise it is the Kronecker product H_K (x) H_{2^k} with a small Hadamard matrix H_K, as
// QuIP# does for non-power-of-two widths (e.g. 768 = 12 * 64). H_K comes from Paley's first
// construction (q prime, q = 3 mod 4, order q + 1: 12, 20, 24, 32, 44, 48, 60, ...), so the orders
// are those K; the smallest one with n / K a power of two is used. Normalized by 1 / sqrt(n), the
// matrix T = (H_K (x) H_{2^k}) / sqrt(n) is orthogonal: T^T T = I.
#include <cstdint>
#include <vector>

namespace qforge::fakequant {

// The Paley order used for n (1 when n is a power of two); std::invalid_argument naming n when there
// is none (n = K * 2^k for no Paley order K).
int64_t hadamard_factor(int64_t n);

// Paley's first construction for order q + 1 (q an odd prime, q = 3 mod 4): row-major +-1 entries,
// H H^T = (q + 1) I. std::invalid_argument when `order` is not such a q + 1.
std::vector<int8_t> paley_hadamard(int64_t order);

// y = T x (or T^T x with `transpose`) for vectors of length n, in place.
class HadamardTransform {
 public:
  explicit HadamardTransform(int64_t n);
  int64_t size() const { return n_; }
  void apply(double* x, bool transpose = false) const;

 private:
  int64_t n_, k_, m_;         // n = k * m, m a power of two
  std::vector<int8_t> h_k_;  // k x k (empty when k = 1)
};

// n random signs +-1 from `seed` (std::mt19937_64: the same on every platform), as QuIP#'s SU / SV.
std::vector<int8_t> random_signs(int64_t n, uint64_t seed);

}  // namespace qforge::fakequant
