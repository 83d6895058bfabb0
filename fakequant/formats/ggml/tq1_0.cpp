#include "fakequant/formats/ggml/tq1_0.h"

#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "fakequant/formats/ggml/block_common.h"

namespace qforge::fakequant::ggml {
namespace {

// The byte of `count` trits of x[0], x[stride], ... (t + 1 in 0..2, first most significant), padded to
// five trits with zeros, as ceil(q·256/243) (quantize_row_tq1_0_ref).
uint8_t pack_trits(const float* x, int stride, int count, float id) {
  int q = 0;
  for (int n = 0; n < count; ++n) q = 3 * q + static_cast<int>(std::lround(x[n * stride] * id)) + 1;
  for (int n = count; n < 5; ++n) q *= 3;
  return static_cast<uint8_t>((q * 256 + 242) / 243);
}

// Trit n of a packed byte, as −1, 0, 1 (dequantize_row_tq1_0).
int unpack_trit(uint8_t byte, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t q = static_cast<uint8_t>(byte * kPow3[n]);
  return ((q * 3) >> 8) - 1;
}

}  // namespace

void quantize_row_tq1_0_ref(const float* x, block_tq1_0* y, int64_t k, const float* /*importance*/) {
  const int64_t nb = checked_block_count("quantize_row_tq1_0", k, 256);
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    const float id = ternary_block_scale(x, y[i].d);
    for (int m = 0; m < 32; ++m) y[i].qs[m] = pack_trits(x + m, 32, 5, id);
    for (int m = 0; m < 16; ++m) y[i].qs[32 + m] = pack_trits(x + 160 + m, 16, 5, id);
    for (int m = 0; m < 4; ++m) y[i].qh[m] = pack_trits(x + 240 + m, 4, 4, id);
  }
}

#if defined(__AVX512F__)
namespace {

// pack_trits for 16 bytes at once: byte m from x[m], x[m + stride], ... (5 trits). The byte
// ceil(q·256/243) = (q·256 + 242)/243 is taken in float: the numerator is below 2^16, so the quotient
// rounds to within 2^-8 of the exact one, which is at least 1/243 from the next integer; truncation is exact.
__m128i pack_trits16(const float* x, int stride, __m512 id) {
  __m512i q = _mm512_setzero_si512();
  for (int n = 0; n < 5; ++n) {
    const __m512i t = lround16(_mm512_mul_ps(_mm512_loadu_ps(x + n * stride), id));
    q = _mm512_add_epi32(_mm512_mullo_epi32(q, _mm512_set1_epi32(3)), _mm512_add_epi32(t, _mm512_set1_epi32(1)));
  }
  const __m512i numerator = _mm512_add_epi32(_mm512_slli_epi32(q, 8), _mm512_set1_epi32(242));
  const __m512i byte = _mm512_cvttps_epi32(_mm512_div_ps(_mm512_cvtepi32_ps(numerator), _mm512_set1_ps(243.f)));
  return _mm512_cvtepi32_epi8(byte);
}

}  // namespace
#endif

// quantize_row_tq1_0_ref with the 48 five-trit bytes 16 at a time (the last 4 bytes of four trits stay scalar).
void quantize_row_tq1_0(const float* x, block_tq1_0* y, int64_t k, const float* importance) {
#if defined(__AVX512F__)
  const int64_t nb = checked_block_count("quantize_row_tq1_0", k, 256);
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    const float id = ternary_block_scale(x, y[i].d);
    const __m512 vid = _mm512_set1_ps(id);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), pack_trits16(x, 32, vid));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16), pack_trits16(x + 16, 32, vid));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 32), pack_trits16(x + 160, 16, vid));
    for (int m = 0; m < 4; ++m) y[i].qh[m] = pack_trits(x + 240 + m, 4, 4, id);
  }
#else
  quantize_row_tq1_0_ref(x, y, k, importance);
#endif
}

void dequantize_row_tq1_0(const block_tq1_0* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_tq1_0", k, 256);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int n = 0; n < 5; ++n) {
      for (int m = 0; m < 32; ++m) y[m + 32 * n] = static_cast<float>(unpack_trit(x[i].qs[m], n)) * d;
      for (int m = 0; m < 16; ++m) y[160 + m + 16 * n] = static_cast<float>(unpack_trit(x[i].qs[32 + m], n)) * d;
    }
    for (int n = 0; n < 4; ++n) {
      for (int m = 0; m < 4; ++m) y[240 + m + 4 * n] = static_cast<float>(unpack_trit(x[i].qh[m], n)) * d;
    }
    y += 256;
  }
}

}  // namespace qforge::fakequant::ggml
