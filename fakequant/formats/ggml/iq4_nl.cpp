#include "fakequant/formats/ggml/iq4_nl.h"

#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/scale_search.h"

namespace qforge::fakequant::ggml {
namespace {

constexpr int kNtry = 7;

struct Fit {
  float sumqx = 0;
  float sumq2 = 0;
};

Fit fit_at(const float* x, const float* weight, float id) {
  Fit f;
  for (int j = 0; j < 32; ++j) {
    const float q = kValuesIQ4NL[best_index_iq4nl(id * x[j])];
    f.sumqx += weight[j] * q * x[j];
    f.sumq2 += weight[j] * q * q;
  }
  return f;
}

}  // namespace

#if defined(__AVX512F__)
float search_scale16(const float* x, const float* weight);
#endif

// The block's f32 scale d (0 for an all-zero block).
float search_iq4_block_scale(const float* x, const float* weight, bool vectorized) {
#if defined(__AVX512F__)
  if (vectorized) return search_scale16(x, weight);
#else
  (void)vectorized;
#endif
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
  }
  if (amax < kGroupMaxEps) return 0.f;
  const float d0 = -max / kValuesIQ4NL[0];
  const Fit f0 = fit_at(x, weight, 1 / d0);
  float d = f0.sumq2 > 0 ? f0.sumqx / f0.sumq2 : 0.f;
  float best = d * f0.sumqx;
  for (int itry = -kNtry; itry <= kNtry; ++itry) {
    const Fit f = fit_at(x, weight, (itry + kValuesIQ4NL[0]) / max);
    if (f.sumq2 > 0 && f.sumqx * f.sumqx > best * f.sumq2) {
      d = f.sumqx / f.sumq2;
      best = d * f.sumqx;
    }
  }
  return d;
}

namespace {

float quantize_block(const float* x, const float* qw, block_iq4_nl& b) {
  float weight[32];
  importance_weights(x, qw, twice_mean_square_iq4(x, 32), 32, weight);
  const float d = search_iq4_block_scale(x, weight);
  b.d = to_f16(d);
  const float id = d ? 1 / d : 0;
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>(best_index_iq4nl(id * x[j]) | (best_index_iq4nl(id * x[j + 16]) << 4));
  }
  return d;
}

}  // namespace

float quantize_block_iq4_nl(const float* x, const float* importance, block_iq4_nl* y) {
  return quantize_block(x, importance, *y);
}

int best_index_iq4nl(float v) {
  // Sorted table: v picks level i once it reaches the midpoint of K[i-1] and K[i]; doubling v keeps
  // the comparison exact. Ties go to the larger level.
  const float v2 = v + v;
  int idx = 0;
  for (int step = 8; step > 0; step >>= 1) {
    const int j = idx + step;
    idx = (v2 >= static_cast<float>(kValuesIQ4NL[j - 1] + kValuesIQ4NL[j])) ? j : idx;
  }
  return idx;
}

void quantize_row_iq4_nl_ref(const float* x, block_iq4_nl* y, int64_t k, const float* importance) {
  const int64_t nb = checked_block_count("quantize_row_iq4_nl", k, kIQ4NLBlockElements);
  for (int64_t i = 0; i < nb; ++i) quantize_block(x + 32 * i, importance ? importance + 32 * i : nullptr, y[i]);
}

#if defined(__AVX512F__)
namespace {

// best_index_iq4nl on 16 lanes: the same 4-step search over the doubled midpoints K[j-1] + K[j].
__m512i best_index16(__m512 v) {
  alignas(64) static const float kMid[16] = {-231, -187, -148, -114, -84, -57, -32, -9, 14, 38, 63, 91, 122, 158, 202, 0};
  const __m512 mid = _mm512_load_ps(kMid);
  const __m512 v2 = _mm512_add_ps(v, v);
  __m512i idx = _mm512_setzero_si512();
  for (int step = 8; step > 0; step >>= 1) {
    const __m512i j = _mm512_add_epi32(idx, _mm512_set1_epi32(step));
    const __m512 t = _mm512_permutexvar_ps(_mm512_sub_epi32(j, _mm512_set1_epi32(1)), mid);
    idx = _mm512_mask_mov_epi32(idx, _mm512_cmp_ps_mask(v2, t, _CMP_GE_OQ), j);
  }
  return idx;
}

__m512 table_value16(__m512i idx) {
  alignas(64) static const float kTable[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  return _mm512_permutexvar_ps(idx, _mm512_load_ps(kTable));
}

// All 16 candidate scales of search_scale at once, one lane each: lane 0 is the start 1/d0, lanes
// 1..15 the iscales of itry = -7..7. Each lane sums over j = 0..31 in order, as fit_at does, so
// every lane's sumqx/sumq2 has the reference's rounding; the choice then runs in the reference order.
}  // namespace

float search_scale16(const float* x, const float* weight) {
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
  }
  if (amax < kGroupMaxEps) return 0.f;
  const float d0 = -max / kValuesIQ4NL[0];
  alignas(64) float ids[16];
  ids[0] = 1 / d0;
  for (int itry = -kNtry; itry <= kNtry; ++itry) ids[itry + kNtry + 1] = (itry + kValuesIQ4NL[0]) / max;
  const __m512 id = _mm512_load_ps(ids);
  __m512 sumqx = _mm512_setzero_ps(), sumq2 = _mm512_setzero_ps();
  for (int j = 0; j < 32; ++j) {
    const __m512 xj = _mm512_set1_ps(x[j]);
    const __m512 q = table_value16(best_index16(_mm512_mul_ps(id, xj)));
    const __m512 wq = _mm512_mul_ps(_mm512_set1_ps(weight[j]), q);
    sumqx = _mm512_add_ps(sumqx, _mm512_mul_ps(wq, xj));
    sumq2 = _mm512_add_ps(sumq2, _mm512_mul_ps(wq, q));
  }
  alignas(64) float qx[16], q2[16];
  _mm512_store_ps(qx, sumqx);
  _mm512_store_ps(q2, sumq2);
  float d = q2[0] > 0 ? qx[0] / q2[0] : 0.f;
  float best = d * qx[0];
  for (int c = 1; c < 16; ++c) {
    if (q2[c] > 0 && qx[c] * qx[c] > best * q2[c]) {
      d = qx[c] / q2[c];
      best = d * qx[c];
    }
  }
  return d;
}

namespace {

void quantize_block16(const float* x, const float* qw, block_iq4_nl& b) {
  float weight[32];
  importance_weights(x, qw, twice_mean_square_iq4(x, 32), 32, weight);
  const float d = search_scale16(x, weight);
  b.d = to_f16(d);
  const __m512 id = _mm512_set1_ps(d ? 1 / d : 0);
  const __m512i lo = best_index16(_mm512_mul_ps(id, _mm512_loadu_ps(x)));
  const __m512i hi = best_index16(_mm512_mul_ps(id, _mm512_loadu_ps(x + 16)));
  const __m512i packed = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 4));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(b.qs), _mm512_cvtepi32_epi8(packed));
}

}  // namespace
#endif

void quantize_row_iq4_nl(const float* x, block_iq4_nl* y, int64_t k, const float* importance) {
#if defined(__AVX512F__)
  const int64_t nb = checked_block_count("quantize_row_iq4_nl", k, kIQ4NLBlockElements);
  for (int64_t i = 0; i < nb; ++i) quantize_block16(x + 32 * i, importance ? importance + 32 * i : nullptr, y[i]);
#else
  quantize_row_iq4_nl_ref(x, y, k, importance);
#endif
}

void dequantize_row_iq4_nl(const block_iq4_nl* x, float* y, int64_t k) {
  const int64_t nb = checked_block_count("dequantize_row_iq4_nl", k, kIQ4NLBlockElements);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = from_f16(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * kValuesIQ4NL[x[i].qs[j] & 0xF];
      y[j + 16] = d * kValuesIQ4NL[x[i].qs[j] >> 4];
    }
  }
}

}  // namespace qforge::fakequant::ggml
