#pragma once
// The E8P ("E8 padded") 2-bit codebook of QuIP# (Tseng et al. 2024, §4.2 and Appendix: "E8P12"):
// 2^16 vectors of 8 dimensions, one 16-bit code per 8 weights = 2 bits per weight. It is a subset of
// the shifted lattice E8 + 1/4: 256 "abs" rows (the 227 absolute values |v| of the v in D8 + 1/2 with
// an even coordinate sum and ||v||^2 <= 10, sorted lexicographically, plus 29 listed vectors of five
// 3/2 and three 1/2, norm^2 12), each with every even number of sign flips (128), shifted by +1/4
// or -1/4. Codes follow quip-sharp's codebook version 1 (docs/quip_sharp.md, the layout a QuIP#
// exporter writes): code = abs_row << 8 | sign byte; parity = popcount(sign byte) & 1 is folded into
// bit 0 (sign bits ^= parity); element i is negated when sign bit [0,4,1,5,2,6,3,7][i] is set, rows
// with an odd coordinate sum first negate element 7; then the vector gets -1/4 if parity, else +1/4.
#include <array>
#include <cstdint>
#include <vector>

namespace qforge::fakequant {

inline constexpr int kE8pDim = 8;
inline constexpr int kE8pCodes = 1 << 16;
// The scale QuIP# gives the codebook for unit-variance input: weights are divided by
// RMS(W) / kE8pOptScale before rounding (quip-sharp's E8P12_codebook.opt_scale).
inline constexpr double kE8pOptScale = 1.03;

// The 256 abs rows, in code order, as twice their values (1, 3, 5: exact integers).
const std::array<std::array<int8_t, kE8pDim>, 256>& e8p_abs_rows();

// The 65536 codewords, row-major [code][8]: the decoding table.
const std::vector<float>& e8p_codebook();

// Codeword of `code` (the decoding rule of the file comment, without the table).
std::array<double, kE8pDim> e8p_decode(uint16_t code);

// The code of the codeword nearest to x (Euclidean), exact: for each shift and abs row the best
// even sign pattern is the signs of the products with one flip of the smallest product when their
// count is odd (the D8 decoding rule of Conway & Sloane, ch. 20). Equal distances keep the smaller code.
uint16_t e8p_nearest(const double* x);

}  // namespace qforge::fakequant
