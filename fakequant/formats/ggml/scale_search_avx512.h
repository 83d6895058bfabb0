#pragma once
// The vectorized candidate loops of the scale searches (scale_search.cpp, `vectorized` = true): up to 16
// candidate iscales in the lanes of an AVX-512 vector, each lane summing over i in the reference's order
// with the reference's products, so each candidate rounds exactly as in the scalar loop. Internal to
// the searches; in builds without AVX-512 they throw std::logic_error (the searches never call them there).

#include <cstdint>

namespace qforge::fakequant::ggml {

// The 18 candidates of make_qx_quants' loop (is = -9..9, is != 0) evaluated 16 lanes at a time;
// returns the index of the winning candidate in the reference order, or -1.
int best_symmetric_candidate(int n, int nmax, const float* x, const float* weights, float max, float& scale,
                             float& best, float* iscales);

// The candidate loop of make_qkx_quants (is = 0..nstep) 16 lanes at a time; updates best_error, scale
// and min like the scalar loop and writes the winner's levels to L.
void search_candidates16(int n, int nmax, const float* x, const float* weights, uint8_t* L, float rmin,
                         float rdelta, int nstep, bool guarded, bool use_mad, float max, float sum_w, float sum_x,
                         float& best_error, float& scale, float& min);

}  // namespace qforge::fakequant::ggml
