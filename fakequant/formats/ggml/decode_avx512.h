#pragma once
// AVX-512 pieces the ggml block decoders' fast paths share (dequantize_row_<type> beside each
// dequantize_row_<type>_ref). Each fast path performs the reference's float operations on 16 lanes in
// the reference's order: small integer codes become floats exactly (|q| < 2^24), then d·q and d·q − m
// round once per operation as the scalar code does (the codec files are compiled with
// -ffp-contract=off, fakequant/CMakeLists.txt; no FMA is used here). The scales stay scalar per
// (sub-)block, computed by the reference's own expression. Bit equality: tests/fakequant/test_ggml_fast_paths.cpp.
// Compiled when -march=native gives AVX512F and AVX512BW (CMake option QFORGE_NATIVE); the same
// condition the fast encoders use (q8_0.cpp).
#if defined(__AVX512F__) && defined(__AVX512BW__)
#define QFORGE_GGML_DECODE_AVX512 1
#include <immintrin.h>

#include <cstdint>

// GCC 12's intrinsics start conversions from _mm*_undefined_*() and then warn about it
// (-Wmaybe-uninitialized false positive, as in fakequant/formats/blockwise_4bit_decode.cpp); nothing
// here reads an undefined lane. Only the codec files include this header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qforge::fakequant::ggml::avx512 {

inline __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// Bits [shift, shift + width) of each of 16 bytes (a 16-bit shift, then a per-byte mask, so no bit
// crosses into the next byte).
inline __m128i bits16(__m128i bytes, int shift, int mask) {
  return _mm_and_si128(_mm_srli_epi16(bytes, shift), _mm_set1_epi8(static_cast<char>(mask)));
}

// 16 unsigned bytes minus `offset`, as floats (exact).
inline __m512 to_float(__m128i bytes, int offset = 0) {
  return _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(bytes), _mm512_set1_epi32(offset)));
}

// y = d·q (one rounding).
inline void store_scaled(float* y, float d, __m512 q) { _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_set1_ps(d), q)); }

// y = d·q − m (two roundings, as `d * q - m` without contraction).
inline void store_scaled_minus(float* y, float d, __m512 q, float m) {
  _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(d), q), _mm512_set1_ps(m)));
}

}  // namespace qforge::fakequant::ggml::avx512
#endif
