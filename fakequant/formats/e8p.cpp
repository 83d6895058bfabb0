// The E8P codebook (e8p.h): its construction, decoding rule and exact nearest-codeword search.
#include "fakequant/formats/e8p.h"

#include <algorithm>
#include <bit>
#include <limits>

namespace qforge::fakequant {
namespace {

using Row = std::array<int8_t, kE8pDim>;

// Sign bit of element i (quip-sharp's shuffle map, kept so codes are the exporter's).
constexpr int kSignBit[kE8pDim] = {0, 4, 1, 5, 2, 6, 3, 7};

// The 29 rows beyond D8 + 1/2 inside radius sqrt(10) that complete the 256 (quip-sharp get_norm12,
// codebook version 1), doubled.
constexpr int8_t kNorm12[29][kE8pDim] = {
    {3, 1, 1, 1, 3, 3, 3, 3}, {1, 3, 1, 1, 3, 3, 3, 3}, {1, 1, 3, 1, 3, 3, 3, 3}, {1, 1, 1, 3, 3, 3, 3, 3},
    {3, 3, 3, 1, 3, 3, 1, 1}, {3, 3, 3, 1, 3, 1, 3, 1}, {3, 3, 3, 1, 1, 3, 3, 1}, {3, 3, 3, 1, 3, 1, 1, 3},
    {3, 3, 3, 1, 1, 3, 1, 3}, {3, 3, 3, 1, 1, 1, 3, 3}, {3, 3, 1, 3, 3, 3, 1, 1}, {3, 3, 1, 3, 3, 1, 3, 1},
    {3, 3, 1, 3, 1, 3, 3, 1}, {3, 3, 1, 3, 3, 1, 1, 3}, {3, 3, 1, 3, 1, 3, 1, 3}, {3, 3, 1, 3, 1, 1, 3, 3},
    {3, 1, 3, 3, 3, 3, 1, 1}, {3, 1, 3, 3, 3, 1, 3, 1}, {3, 1, 3, 3, 1, 3, 3, 1}, {3, 1, 3, 3, 3, 1, 1, 3},
    {3, 1, 3, 3, 1, 3, 1, 3}, {1, 3, 3, 3, 1, 1, 3, 3}, {1, 3, 3, 3, 3, 3, 1, 1}, {1, 3, 3, 3, 3, 1, 3, 1},
    {1, 3, 3, 3, 1, 3, 3, 1}, {1, 3, 3, 3, 3, 1, 1, 3}, {1, 3, 3, 3, 1, 3, 1, 3}, {1, 1, 3, 3, 1, 3, 3, 3},
    {3, 3, 1, 1, 3, 3, 3, 1},
};

std::array<Row, 256> build_abs_rows() {
  // Doubled coordinates of D8 + 1/2 are odd; |v| ranges over {1, 3, 5} once ||v||^2 <= 10 (doubled:
  // <= 40). Every abs pattern has a sign choice with an even sum (one flip changes the sum by an odd
  // integer), so the set is all such patterns; enumerating them in lexicographic order sorts them.
  std::array<Row, 256> rows{};
  int count = 0;
  Row r{};
  for (int code = 0; code < 6561; ++code) {  // 3^8 patterns over {1, 3, 5}
    int rest = code, norm = 0;
    for (int i = kE8pDim - 1; i >= 0; --i, rest /= 3) r[i] = static_cast<int8_t>(1 + 2 * (rest % 3));
    for (int8_t v : r) norm += v * v;
    if (norm <= 40) rows[count++] = r;
  }
  for (const auto& extra : kNorm12) std::copy(extra, extra + kE8pDim, rows[count++].begin());
  return rows;  // count == 256 (227 + 29): tests/ptq/test_quip_sharp.cpp checks it
}

// The abs row as decoding uses it: element 7 negated when the (undoubled) coordinate sum is odd.
struct SignedRow {
  double value[kE8pDim];
  double norm;
};

std::array<SignedRow, 256> build_signed_rows() {
  std::array<SignedRow, 256> out{};
  for (int a = 0; a < 256; ++a) {
    const Row& r = e8p_abs_rows()[a];
    int sum = 0;
    for (int8_t v : r) sum += v;
    out[a].norm = 0;
    for (int i = 0; i < kE8pDim; ++i) {
      out[a].value[i] = r[i] * 0.5 * ((i == 7 && (sum / 2) % 2 != 0) ? -1.0 : 1.0);
      out[a].norm += out[a].value[i] * out[a].value[i];
    }
  }
  return out;
}

const std::array<SignedRow, 256>& signed_rows() {
  static const std::array<SignedRow, 256> rows = build_signed_rows();
  return rows;
}

}  // namespace

const std::array<Row, 256>& e8p_abs_rows() {
  static const std::array<Row, 256> rows = build_abs_rows();
  return rows;
}

std::array<double, kE8pDim> e8p_decode(uint16_t code) {
  const int parity = std::popcount(static_cast<unsigned>(code & 255)) & 1;
  const int signs = (code & 255) ^ parity;
  const SignedRow& row = signed_rows()[code >> 8];
  std::array<double, kE8pDim> out{};
  for (int i = 0; i < kE8pDim; ++i) out[i] = row.value[i] * (((signs >> kSignBit[i]) & 1) ? -1.0 : 1.0) + (parity ? -0.25 : 0.25);
  return out;
}

const std::vector<float>& e8p_codebook() {
  static const std::vector<float> table = [] {
    std::vector<float> t(static_cast<size_t>(kE8pCodes) * kE8pDim);
    for (int c = 0; c < kE8pCodes; ++c) {
      const auto v = e8p_decode(static_cast<uint16_t>(c));
      for (int i = 0; i < kE8pDim; ++i) t[static_cast<size_t>(c) * kE8pDim + i] = static_cast<float>(v[i]);
    }
    return t;
  }();
  return table;
}

uint16_t e8p_nearest(const double* x) {
  double best = std::numeric_limits<double>::infinity();
  uint16_t best_code = 0;
  for (int parity = 0; parity < 2; ++parity) {
    double y[kE8pDim], y_norm = 0;
    for (int i = 0; i < kE8pDim; ++i) y[i] = x[i] - (parity ? -0.25 : 0.25), y_norm += y[i] * y[i];
    for (int a = 0; a < 256; ++a) {
      const SignedRow& row = signed_rows()[a];
      // max over even sign patterns s of sum s_i z_i, z_i = a'_i y_i.
      double sum = 0, smallest = std::numeric_limits<double>::infinity();
      int flips = 0, smallest_at = 0;
      for (int i = 0; i < kE8pDim; ++i) {
        const double z = row.value[i] * y[i];
        sum += std::abs(z);
        flips |= (z < 0) << i;
        if (std::abs(z) < smallest) smallest = std::abs(z), smallest_at = i;
      }
      if (std::popcount(static_cast<unsigned>(flips)) & 1) sum -= 2 * smallest, flips ^= 1 << smallest_at;
      const double distance = y_norm + row.norm - 2 * sum;
      int signs = 0;
      for (int i = 0; i < kE8pDim; ++i) signs |= ((flips >> i) & 1) << kSignBit[i];
      const uint16_t code = static_cast<uint16_t>(a << 8 | (signs ^ parity));
      if (distance < best || (distance == best && code < best_code)) best = distance, best_code = code;
    }
  }
  return best_code;
}

}  // namespace qforge::fakequant
