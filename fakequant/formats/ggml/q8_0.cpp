#include "fakequant/formats/ggml/q8_0.h"

#include <algorithm>
#include <cmath>

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
#endif

#include "fakequant/formats/ggml/block_common.h"

namespace qforge::fakequant::ggml {

void quantize_row_q8_0_ref(const float* x, block_q8_0* y, int64_t k, const float* /*importance*/) {
  const int64_t nb = checked_block_count("quantize_row_q8_0", k, kQ8_0BlockElements);
  for (int64_t i = 0; i < nb; ++i, x += kQ8_0BlockElements) {
    const auto [d, id] = q8_0_scale(x);
    y[i].d = to_f16(d);
    for (int j = 0; j < 32; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

Q8_0Scale q8_0_scale(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127;
  return {d, d ? 1.0f / d : 0.0f};
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
namespace {

// roundf (half away from zero) on 16 lanes: truncate, then step away from zero when the dropped
// fraction (exact: v - trunc(v) has no rounding for |v| < 2^23) is at least one half.
__m128i round_half_away_to_i8(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 sign_one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
  const __m512 r = _mm512_mask_add_ps(t, up, t, sign_one);
  return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(r));
}

}  // namespace
#endif

// Same operations as the reference, 16 lanes at a time: |x| max (exact), d = amax/127 and id = 1/d in
// scalar f32, one rounded product x·id per element, roundf. Byte-identical (test_ggml_fast_paths).
void quantize_row_q8_0(const float* x, block_q8_0* y, int64_t k, [[maybe_unused]] const float* importance) {
#if defined(__AVX512F__) && defined(__AVX512BW__)
  const int64_t nb = checked_block_count("quantize_row_q8_0", k, kQ8_0BlockElements);
  for (int64_t i = 0; i < nb; ++i, x += kQ8_0BlockElements) {
    const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = to_f16(d);
    const __m512 vid = _mm512_set1_ps(id);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), round_half_away_to_i8(_mm512_mul_ps(lo, vid)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16), round_half_away_to_i8(_mm512_mul_ps(hi, vid)));
  }
#else
  quantize_row_q8_0_ref(x, y, k, importance);
#endif
}

void dequantize_row_q8_0(const block_q8_0* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_q8_0", k, kQ8_0BlockElements);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = from_f16(x[i].d);
    for (int j = 0; j < 32; ++j) *y++ = x[i].qs[j] * d;
  }
}

}  // namespace qforge::fakequant::ggml
