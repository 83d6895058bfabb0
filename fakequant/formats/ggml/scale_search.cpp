#include "fakequant/formats/ggml/scale_search.h"

#include <algorithm>
#include <cmath>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/scale_search_avx512.h"

namespace qforge::fakequant::ggml {
namespace {

struct LevelSums {
  float sumlx = 0;
  float suml2 = 0;
};

// Levels for one candidate iscale and their weighted sums; L is written only when given.
LevelSums symmetric_sums(int n, int nmax, const float* x, const float* weights, float iscale, int8_t* L) {
  LevelSums s;
  for (int i = 0; i < n; ++i) {
    int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
    if (L) L[i] = static_cast<int8_t>(l + nmax);
    const float w = weight_or_square(weights, x, i);
    s.sumlx += w * x[i] * l;
    s.suml2 += w * l * l;
  }
  return s;
}

}  // namespace

float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* weights, bool vectorized) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  float iscale = -nmax / max;
  LevelSums s = symmetric_sums(n, nmax, x, weights, iscale, L);
  float scale = s.suml2 ? s.sumlx / s.suml2 : 0.0f;
  float best = scale * s.sumlx;
  if (vectorized) {
    float iscales[18];
    const int winner = best_symmetric_candidate(n, nmax, x, weights, max, scale, best, iscales);
    if (winner >= 0) symmetric_sums(n, nmax, x, weights, iscales[winner], L);
    return scale;
  }
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    const LevelSums t = symmetric_sums(n, nmax, x, weights, iscale, nullptr);
    if (t.suml2 > 0 && t.sumlx * t.sumlx > best * t.suml2) {
      symmetric_sums(n, nmax, x, weights, iscale, L);
      scale = t.sumlx / t.suml2;
      best = scale * t.sumlx;
    }
  }
  return scale;
}

namespace {

// Shared body of make_qkx2/qkx3; `guarded` selects qkx3's level rule, which clamps before rounding so
// a min near max (huge iscale) cannot overflow nearest_int. Both give the same levels on finite input.
// use_mad scores by w·|diff| (Q2_K) instead of w·diff², in both searches.
float make_qkx_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                      float rmin, float rdelta, int nstep, bool guarded, bool vectorized, bool use_mad = false) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (guarded ? max <= min : max == min) {
    std::fill(L, L + n, uint8_t{0});
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min)))));
    const float diff = scale * L[i] + min - x[i];
    best_error += weights[i] * (use_mad ? std::fabs(diff) : diff * diff);
  }
  if (vectorized) {
    search_candidates16(n, nmax, x, weights, L, rmin, rdelta, nstep, guarded, use_mad, max, sum_w, sum_x, best_error,
                        scale, min);
  } else {
    uint8_t Laux[256];
    for (int is = 0; is <= nstep; ++is) {
      iscale = (rmin + rdelta * is + nmax) / (max - min);
      float sum_l = 0, sum_l2 = 0, sum_xl = 0;
      for (int i = 0; i < n; ++i) {
        int l;
        if (guarded) {
          const float v = iscale * (x[i] - min);
          l = v > 0 ? nearest_int(std::min(v, static_cast<float>(nmax))) : 0;
        } else {
          l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min))));
        }
        Laux[i] = static_cast<uint8_t>(l);
        const float w = weights[i];
        sum_l += w * l;
        sum_l2 += w * l * l;
        sum_xl += w * l * x[i];
      }
      const float D = sum_w * sum_l2 - sum_l * sum_l;
      if (!(D > 0)) continue;
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * Laux[i] + this_min - x[i];
        cur_error += weights[i] * (use_mad ? std::fabs(diff) : diff * diff);
      }
      if (cur_error < best_error) {
        std::copy(Laux, Laux + n, L);
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

}  // namespace

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       float rmin, float rdelta, int nstep, bool vectorized) {
  return make_qkx_quants(n, nmax, x, weights, L, the_min, rmin, rdelta, nstep, false, vectorized);
}

float make_qkx2_quants_mad(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                           float rmin, float rdelta, int nstep, bool vectorized) {
  return make_qkx_quants(n, nmax, x, weights, L, the_min, rmin, rdelta, nstep, false, vectorized, true);
}

float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       float rmin, float rdelta, int nstep, bool vectorized) {
  return make_qkx_quants(n, nmax, x, weights, L, the_min, rmin, rdelta, nstep, true, vectorized);
}

float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < kGroupMaxEps) {
    std::fill(L, L + n, uint8_t{0});
    return 0.f;
  }
  float iscale = nmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * L[i];
    best_mse += weights[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * is + nmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * l;
      mse += weights[i] * diff * diff;
    }
    if (mse < best_mse) { best_mse = mse; iscale = iscale_is; }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<uint8_t>(l);
    sumlx += weights[i] * x[i] * l;
    suml2 += weights[i] * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = weights[i];
      float slx = sumlx - w * x[i] * L[i];
      float sl2 = suml2 - w * L[i] * L[i];
      if (!(slx > 0 && sl2 > 0)) continue;
      const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
      if (new_l == L[i]) continue;
      slx += w * x[i] * new_l;
      sl2 += w * new_l * new_l;
      if (slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<uint8_t>(new_l); sumlx = slx; suml2 = sl2;
        ++n_changed;
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) { amax = std::fabs(x[i]); max = x[i]; }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (!(slx > 0)) continue;
      float sl2 = suml2 - w * L[i] * L[i];
      const int new_l = std::max(-nmax, std::min(nmax - 1, nearest_int(x[i] * sl2 / slx)));
      if (new_l == L[i]) continue;
      slx += w * x[i] * new_l;
      sl2 += w * new_l * new_l;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(new_l); sumlx = slx; suml2 = sl2;
        ++n_changed;
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace qforge::fakequant::ggml
