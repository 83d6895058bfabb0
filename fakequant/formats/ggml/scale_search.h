#pragma once
// llama.cpp's scale searches for the k-quants (ggml-quants.c, ikawrakow 2023/2024), rewritten from
// their description. L receives the chosen integer levels. All return the float scale.

#include <cstdint>

namespace qforge::fakequant::ggml {

// GROUP_MAX_EPS: a group whose max |x| is below this is treated as all zeros.
constexpr float kGroupMaxEps = 1e-15f;

// Symmetric levels l in [-nmax, nmax-1] stored as l + nmax. Starts from scale max/(-nmax) (the signed
// extreme maps to -nmax), then tries 18 nearby iscales -(nmax + 0.1·is)/max, is = ±1..±9, keeping the
// least-squares scale sum(w·x·l)/sum(w·l²) with the largest sum(w·x·l)²/sum(w·l²). Weights are
// `weights` when given, else x² (rmse_type 1, the only type the codecs here use).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* weights, bool vectorized = false);

// Asymmetric levels in [0, nmax] with x ≈ scale·l − the_min (the_min ≥ 0). Tries iscales
// (rmin + rdelta·is + nmax)/(max − min), is = 0..nstep, each refit by weighted least squares for
// scale and min (min clamped to ≤ 0), keeping the lowest weighted squared error.
// make_qkx2: Q4_K/Q5_K without importance; make_qkx3: the importance paths of Q2_K, Q4_1, Q4_K, Q5_1,
// Q5_K (guards against NaN levels). vectorized: evaluate up to 16 candidate iscales at once (AVX-512
// builds only); same result.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       float rmin, float rdelta, int nstep, bool vectorized = false);
// make_qkx2 scoring candidates by the weighted absolute error sum(w·|scale·l − min − x|) instead of the
// squared one (llama.cpp's use_mad = true; only Q2_K without importance uses it).
float make_qkx2_quants_mad(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                           float rmin, float rdelta, int nstep, bool vectorized = false);
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       float rmin, float rdelta, int nstep, bool vectorized = false);

// Non-negative levels in [0, nmax] for the sub-block scales/mins of the importance path: 8 candidate
// iscales (0.1·is + nmax)/max, then up to 5 passes of coordinate descent on single levels.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* weights);

// Q3_K without importance (ggml-quants.c make_q3_quants, do_rmse = true): symmetric levels in
// [-nmax, nmax-1] from iscale -nmax/max (max: the signed extreme), then up to 5 passes of coordinate
// descent on single levels with weights x², keeping a change when it raises sum(w·x·l)²/sum(w·l²).
// L receives l + nmax; an all-zero group (max |x| < kGroupMaxEps) gets L = 0 and scale 0.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);

}  // namespace qforge::fakequant::ggml
