// Hadamard transforms (hadamard.h): a fast Walsh-Hadamard butterfly on the power-of-two factor and a
// dense multiply by Paley's H_K on the other.
#include "fakequant/hadamard.h"

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace qforge::fakequant {
namespace {

bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

bool is_prime(int64_t q) {
  if (q < 2) return false;
  for (int64_t d = 2; d * d <= q; ++d)
    if (q % d == 0) return false;
  return true;
}

// Paley I exists for order q + 1 with q an odd prime, q = 3 mod 4.
bool is_paley_order(int64_t order) { return order > 3 && is_prime(order - 1) && (order - 1) % 4 == 3; }

// Unnormalized Sylvester transform of x[0..m) with stride `stride` (H_m is symmetric).
void walsh_hadamard(double* x, int64_t m, int64_t stride) {
  for (int64_t half = 1; half < m; half *= 2) {
    for (int64_t start = 0; start < m; start += 2 * half) {
      for (int64_t i = start; i < start + half; ++i) {
        const double a = x[i * stride], b = x[(i + half) * stride];
        x[i * stride] = a + b;
        x[(i + half) * stride] = a - b;
      }
    }
  }
}

}  // namespace

int64_t hadamard_factor(int64_t n) {
  if (is_power_of_two(n)) return 1;
  for (int64_t k = 4; k <= n; k += 4) {
    if (n % k == 0 && is_power_of_two(n / k) && is_paley_order(k)) return k;
  }
  throw std::invalid_argument("hadamard: size " + std::to_string(n) +
                              " is not K * 2^k for a power of two or a Paley order K (q + 1, q prime, q = 3 mod 4)");
}

std::vector<int8_t> paley_hadamard(int64_t order) {
  if (!is_paley_order(order)) throw std::invalid_argument("hadamard: no Paley construction of order " + std::to_string(order));
  const int64_t q = order - 1;
  std::vector<int> chi(static_cast<size_t>(q), -1);  // Legendre symbol of 1..q-1; chi[0] = 0
  chi[0] = 0;
  for (int64_t x = 1; x < q; ++x) chi[(x * x) % q] = 1;
  // S = [[0, 1^T], [-1, Q]] with the Jacobsthal matrix Q_ij = chi(j - i) is skew-symmetric and
  // S S^T = q I, so H = I + S has H H^T = (q + 1) I (Paley 1933).
  std::vector<int8_t> h(static_cast<size_t>(order * order));
  for (int64_t i = 0; i < order; ++i) {
    for (int64_t j = 0; j < order; ++j) {
      int s = 0;
      if (i == 0 && j > 0) s = 1;
      else if (j == 0 && i > 0) s = -1;
      else if (i > 0 && j > 0) s = chi[((j - i) % q + q) % q];
      h[i * order + j] = static_cast<int8_t>(s + (i == j ? 1 : 0));
    }
  }
  return h;
}

HadamardTransform::HadamardTransform(int64_t n) : n_(n), k_(hadamard_factor(n)), m_(n / k_) {
  if (k_ > 1) h_k_ = paley_hadamard(k_);
}

void HadamardTransform::apply(double* x, bool transpose) const {
  // x viewed as [k][m]: (H_K (x) H_m) x = H_K applied across rows after H_m within each row.
  for (int64_t a = 0; a < k_; ++a) walsh_hadamard(x + a * m_, m_, 1);
  if (k_ > 1) {
    std::vector<double> column(static_cast<size_t>(k_));
    for (int64_t b = 0; b < m_; ++b) {
      for (int64_t a = 0; a < k_; ++a) {
        double sum = 0;
        for (int64_t c = 0; c < k_; ++c) sum += (transpose ? h_k_[c * k_ + a] : h_k_[a * k_ + c]) * x[c * m_ + b];
        column[a] = sum;
      }
      for (int64_t a = 0; a < k_; ++a) x[a * m_ + b] = column[a];
    }
  }
  const double norm = 1.0 / std::sqrt(static_cast<double>(n_));
  for (int64_t i = 0; i < n_; ++i) x[i] *= norm;
}

std::vector<int8_t> random_signs(int64_t n, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<int8_t> signs(static_cast<size_t>(n));
  for (int8_t& s : signs) s = (engine() >> 63) ? -1 : 1;
  return signs;
}

}  // namespace qforge::fakequant
