#pragma once
// Shared helpers for the ggml block codecs (GGUF tensor data, see docs/gguf.md §6).
// Every codec here follows llama.cpp's scalar reference (ggml/src/ggml-quants.c, the
// "reference implementation for deterministic creation of model files"): same search, same float
// operation order, f16 stored with round-to-nearest-even. The .cpp files are compiled with
// -ffp-contract=off so no multiply-add is fused (C semantics: every operation rounds).
// Checked bit for bit against the reference functions of ggml-org/llama.cpp@01243c58 compiled the same
// way, and against files written by llama-quantize (tests/golden/llama_quantize). llama-quantize calls
// these functions from libggml-base, which llama.cpp's CMake builds without -march=native (only the
// ggml-cpu backend gets it): on x86-64 there is then no FMA instruction to contract a·b + c into, and the
// bytes match with and without an imatrix (docs/gguf.md §6). A llama.cpp whose ggml-base is compiled with
// FMA available and GCC's default -ffp-contract=fast may differ in a few percent of the k-quant, IQ4_NL
// and importance-path blocks (open PR ggml-org/llama.cpp#25353 proposes -ffp-contract=off for
// ggml-quants.c); Q8_0 and the plain Q4_0/Q4_1/Q5_0/Q5_1 paths have no contractible sums.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "fakequant/formats/half.h"

namespace qforge::fakequant::ggml {

// ggml's nearest_int: adds 1.5·2^23 so the FPU rounds to an integer (round half to even) and reads the
// mantissa. Valid for |x| <= 4194303 (ggml asserts it); the searches only pass small values.
inline int nearest_int(float value) {
  const float shifted = value + 12582912.f;
  int bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return (bits & 0x007fffff) - 0x00400000;
}

#if defined(__AVX512F__)
// static_cast<int>(std::lround(v)) (round half away from zero) on 16 lanes, exactly, for |v| < 2^31:
// truncate, then step away from zero when the dropped fraction v − trunc(v) (exact in float) is at least
// one half. NaN gives 0, as the scalar does on x86-64 (lround's LONG_MIN, truncated to int).
inline __m512i lround16(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_sub_ps(v, t);
  __m512i q = _mm512_cvttps_epi32(t);
  q = _mm512_mask_add_epi32(q, _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ), q, _mm512_set1_epi32(1));
  q = _mm512_mask_sub_epi32(q, _mm512_cmp_ps_mask(frac, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), q, _mm512_set1_epi32(1));
  return _mm512_mask_mov_epi32(q, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_setzero_si512());
}
#endif

// llama.cpp's importance weighting (quantize_row_<type>_impl in ggml-quants.c): with an imatrix, element
// i weighs imp[i]·sqrt(σ² + x[i]²), σ² being Σx²/n over the row or super-block (2·Σx²/n in most k- and
// IQ formats); without one, x[i]². The helpers keep the reference's float operations and their order
// (a sum in index order, then /n): the bytes depend on it. They are meant for the codec files, which are
// compiled with -ffp-contract=off; a file compiled otherwise could fuse sigma2 + x·x and, being inline,
// hand that copy to the linker.
inline float sum_of_squares(const float* x, int64_t n) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * x[i];
  return sum;
}

// σ² = Σx²/n (Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, IQ2_XXS, IQ2_XS).
inline float mean_square(const float* x, int64_t n) { return sum_of_squares(x, n) / n; }

// σ² = 2·Σx²/n (Q3_K, Q4_K, Q5_K, IQ1_S, IQ1_M, IQ2_S, IQ3_XXS, IQ3_S).
inline float twice_mean_square(const float* x, int64_t n) { return 2 * sum_of_squares(x, n) / n; }

// IQ4_NL's and IQ4_XS's σ²: Σx² times 2/n (llama.cpp: sigma2 *= 2.f/super_block_size). 2/n is exact for
// their n (32, 256), so this differs from twice_mean_square only where 2·Σx² would overflow.
inline float twice_mean_square_iq4(const float* x, int64_t n) { return sum_of_squares(x, n) * (2.f / n); }

// weight[i] = qw[i]·sqrt(σ² + x[i]²) for i < n; x[i]² where there is no importance (qw null).
inline void importance_weights(const float* x, const float* qw, float sigma2, int n, float* weight) {
  if (qw) {
    for (int i = 0; i < n; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
  } else {
    for (int i = 0; i < n; ++i) weight[i] = x[i] * x[i];
  }
}

// The importance path of Q4_0, Q4_1, Q5_0 and Q5_1 (quantize_row_q4_0_impl and its siblings): σ² = Σx²/k
// over the whole row, then for each of the nb blocks of 32 its importance weights, handed with the
// block to `block(i, xb, weight)`.
template <class Block>
void for_each_weighted_block32(const float* x, const float* importance, int64_t nb, Block block) {
  const float sigma2 = mean_square(x, 32 * nb);
  for (int64_t i = 0; i < nb; ++i) {
    float weight[32];
    importance_weights(x + 32 * i, importance + 32 * i, sigma2, 32, weight);
    block(i, x + 32 * i, weight);
  }
}

// The searches' weight of element i: the given weights, else x[i]² (ggml's rmse_type 1 without quant_weights).
inline float weight_or_square(const float* weights, const float* x, int i) { return weights ? weights[i] : x[i] * x[i]; }

inline uint16_t to_f16(float value) { return encode_fp16(value); }

// The ternary types' super-block scale (TQ1_0, TQ2_0; quantize_row_tq*_0_ref): d = max |x| over 256 values,
// stored as f16; returns 1/d (0 for an all-zero block) for rounding x·(1/d).
inline float ternary_block_scale(const float* x, uint16_t& d) {
  float amax = 0;
  for (int j = 0; j < 256; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  d = to_f16(amax);
  return amax ? 1.0f / amax : 0.0f;
}
inline float from_f16(uint16_t code) { return decode_fp16(code); }

// Rows must hold whole blocks: a GGUF tensor's ne0 is a multiple of the block size (docs/gguf.md §1).
inline int64_t checked_block_count(const char* codec, int64_t k, int64_t block_elements) {
  if (k < 0 || k % block_elements != 0) {
    throw std::invalid_argument(std::string(codec) + ": k " + std::to_string(k) +
                                " is not a multiple of the block size " + std::to_string(block_elements));
  }
  return k / block_elements;
}

}  // namespace qforge::fakequant::ggml
