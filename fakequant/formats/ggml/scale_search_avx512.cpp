#include "fakequant/formats/ggml/scale_search_avx512.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "fakequant/formats/ggml/block_common.h"

namespace qforge::fakequant::ggml {
namespace {

#if defined(__AVX512F__)
// symmetric_sums for 16 candidate iscales (one per lane), each summed over i in the reference order.
void symmetric_sums16(int n, int nmax, const float* x, const float* weights, __m512 iscale, __m512& sumlx,
                      __m512& suml2) {
  sumlx = _mm512_setzero_ps();
  suml2 = _mm512_setzero_ps();
  for (int i = 0; i < n; ++i) {
    const __m512 xi = _mm512_set1_ps(x[i]);
    const __m512i bits = _mm512_castps_si512(_mm512_add_ps(_mm512_mul_ps(iscale, xi), _mm512_set1_ps(12582912.f)));
    __m512i l = _mm512_sub_epi32(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x00400000));
    l = _mm512_max_epi32(_mm512_set1_epi32(-nmax), _mm512_min_epi32(_mm512_set1_epi32(nmax - 1), l));
    const __m512 lf = _mm512_cvtepi32_ps(l);
    const __m512 w = _mm512_set1_ps(weight_or_square(weights, x, i));
    sumlx = _mm512_add_ps(sumlx, _mm512_mul_ps(_mm512_mul_ps(w, xi), lf));
    suml2 = _mm512_add_ps(suml2, _mm512_mul_ps(_mm512_mul_ps(w, lf), lf));
  }
}
#endif

// Level of x - min under iscale: qkx3's guarded rule or qkx2's clamp (identical on finite input).
[[maybe_unused]] inline int asymmetric_level(float iscale, float x_minus_min, int nmax, bool guarded) {
  if (guarded) {
    const float v = iscale * x_minus_min;
    return v > 0 ? nearest_int(std::min(v, static_cast<float>(nmax))) : 0;
  }
  return std::max(0, std::min(nmax, nearest_int(iscale * x_minus_min)));
}

#if defined(__AVX512F__)
// asymmetric_level on 16 lanes with the same integer trick as nearest_int.
__m512i asymmetric_level16(__m512 iscale, __m512 x_minus_min, int nmax, bool guarded) {
  const __m512 v = _mm512_mul_ps(iscale, x_minus_min);
  const __m512 nmax_f = _mm512_set1_ps(static_cast<float>(nmax));
  auto nearest = [](__m512 value) {
    const __m512i bits = _mm512_castps_si512(_mm512_add_ps(value, _mm512_set1_ps(12582912.f)));
    return _mm512_sub_epi32(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x00400000));
  };
  if (guarded) {  // std::min(v, nmax) == nmax < v ? nmax : v == _mm512_min_ps(nmax, v)
    const __m512i l = nearest(_mm512_min_ps(nmax_f, v));
    return _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), l);
  }
  return _mm512_max_epi32(_mm512_setzero_si512(), _mm512_min_epi32(_mm512_set1_epi32(nmax), nearest(v)));
}
#endif

// The candidate loop of make_qkx_quants with up to 16 candidate iscales in the lanes of a vector:
// every lane accumulates over i = 0..n-1 in order with the reference's products, so its sums and
// errors round exactly as the scalar loop's; candidates are then taken in the reference order.
// The reference updates `min` when a candidate wins and later candidates use the new min (in
// their iscale and levels), so after a win that changes min the remaining candidates are redone.
struct CandidateChunk {
  alignas(64) float iscales[16];
  alignas(64) float errors[16];
  alignas(64) float scales[16];
  alignas(64) float mins[16];
  uint16_t valid;  // an __mmask16: declared without <immintrin.h> so non-AVX-512 builds compile
};

#if defined(__AVX512F__)
void evaluate_chunk16(int n, int nmax, const float* x, const float* weights, float rmin, float rdelta, int first,
                      int count, bool guarded, bool use_mad, float max, float min, float sum_w, float sum_x,
                      CandidateChunk& out) {
  for (int c = 0; c < 16; ++c) out.iscales[c] = c < count ? (rmin + rdelta * (first + c) + nmax) / (max - min) : 0.f;
  const __m512 isc = _mm512_load_ps(out.iscales);
  __m512 sum_l = _mm512_setzero_ps(), sum_l2 = _mm512_setzero_ps(), sum_xl = _mm512_setzero_ps();
  for (int i = 0; i < n; ++i) {
    const __m512 l = _mm512_cvtepi32_ps(asymmetric_level16(isc, _mm512_set1_ps(x[i] - min), nmax, guarded));
    const __m512 wl = _mm512_mul_ps(_mm512_set1_ps(weights[i]), l);
    sum_l = _mm512_add_ps(sum_l, wl);
    sum_l2 = _mm512_add_ps(sum_l2, _mm512_mul_ps(wl, l));
    sum_xl = _mm512_add_ps(sum_xl, _mm512_mul_ps(wl, _mm512_set1_ps(x[i])));
  }
  const __m512 vw = _mm512_set1_ps(sum_w), vx = _mm512_set1_ps(sum_x);
  const __m512 D = _mm512_sub_ps(_mm512_mul_ps(vw, sum_l2), _mm512_mul_ps(sum_l, sum_l));
  __m512 this_scale = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(vw, sum_xl), _mm512_mul_ps(vx, sum_l)), D);
  __m512 this_min = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(sum_l2, vx), _mm512_mul_ps(sum_l, sum_xl)), D);
  const __mmask16 positive_min = _mm512_cmp_ps_mask(this_min, _mm512_setzero_ps(), _CMP_GT_OQ);
  this_min = _mm512_mask_mov_ps(this_min, positive_min, _mm512_setzero_ps());
  this_scale = _mm512_mask_mov_ps(this_scale, positive_min, _mm512_div_ps(sum_xl, sum_l2));
  __m512 error = _mm512_setzero_ps();
  for (int i = 0; i < n; ++i) {
    const __m512 l = _mm512_cvtepi32_ps(asymmetric_level16(isc, _mm512_set1_ps(x[i] - min), nmax, guarded));
    const __m512 diff = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(this_scale, l), this_min), _mm512_set1_ps(x[i]));
    const __m512 penalty = use_mad ? _mm512_abs_ps(diff) : _mm512_mul_ps(diff, diff);
    error = _mm512_add_ps(error, _mm512_mul_ps(_mm512_set1_ps(weights[i]), penalty));
  }
  out.valid = _mm512_cmp_ps_mask(D, _mm512_setzero_ps(), _CMP_GT_OQ);
  _mm512_store_ps(out.errors, error);
  _mm512_store_ps(out.scales, this_scale);
  _mm512_store_ps(out.mins, this_min);
}
#endif

}  // namespace

int best_symmetric_candidate(int n, int nmax, const float* x, const float* weights, float max, float& scale,
                             float& best, float* iscales) {
#if defined(__AVX512F__)
  alignas(64) float cand[32] = {};
  int count = 0;
  for (int is = -9; is <= 9; ++is) {
    if (is != 0) cand[count++] = -(nmax + 0.1f * is) / max;
  }
  alignas(64) float lx[32], l2[32];
  for (int first = 0; first < count; first += 16) {
    __m512 sumlx, suml2;
    symmetric_sums16(n, nmax, x, weights, _mm512_load_ps(cand + first), sumlx, suml2);
    _mm512_store_ps(lx + first, sumlx);
    _mm512_store_ps(l2 + first, suml2);
  }
  int winner = -1;
  for (int c = 0; c < count; ++c) {
    if (l2[c] > 0 && lx[c] * lx[c] > best * l2[c]) {
      scale = lx[c] / l2[c];
      best = scale * lx[c];
      winner = c;
    }
  }
  std::copy(cand, cand + count, iscales);
  return winner;
#else
  (void)n, (void)nmax, (void)x, (void)weights, (void)max, (void)scale, (void)best, (void)iscales;
  throw std::logic_error("best_symmetric_candidate needs AVX-512");
#endif
}

void search_candidates16(int n, int nmax, const float* x, const float* weights, uint8_t* L, float rmin,
                         float rdelta, int nstep, bool guarded, bool use_mad, float max, float sum_w, float sum_x,
                         float& best_error, float& scale, float& min) {
#if defined(__AVX512F__)
  float winner_iscale = 0, winner_min = 0;
  bool won = false;
  int first = 0;
  while (first <= nstep) {
    const int count = std::min(16, nstep + 1 - first);
    CandidateChunk chunk;
    evaluate_chunk16(n, nmax, x, weights, rmin, rdelta, first, count, guarded, use_mad, max, min, sum_w, sum_x, chunk);
    int next = first + count;
    for (int c = 0; c < count; ++c) {
      if (!((chunk.valid >> c) & 1) || !(chunk.errors[c] < best_error)) continue;
      const float min_before = min;
      best_error = chunk.errors[c];
      scale = chunk.scales[c];
      min = chunk.mins[c];
      won = true;
      winner_iscale = chunk.iscales[c];
      winner_min = min_before;  // the levels of this candidate were computed with the old min
      if (std::memcmp(&min, &min_before, sizeof(float)) != 0) {
        next = first + c + 1;  // later candidates see the new min
        break;
      }
    }
    first = next;
  }
  if (won) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(asymmetric_level(winner_iscale, x[i] - winner_min, nmax, guarded));
  }
#else
  (void)n, (void)nmax, (void)x, (void)weights, (void)L, (void)rmin, (void)rdelta, (void)nstep, (void)guarded, (void)use_mad;
  (void)max, (void)sum_w, (void)sum_x, (void)best_error, (void)scale, (void)min;
  throw std::logic_error("search_candidates16 needs AVX-512");
#endif
}

}  // namespace qforge::fakequant::ggml
