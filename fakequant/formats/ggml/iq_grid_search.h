#pragma once
// llama.cpp's lookup structures for quantizing onto the IQ grids (iq2xs_init_impl / iq3xs_init_impl in
// ggml-quants.c, docs/gguf.md §6): every point of the level cube, u = Σ l_k·2^(bits·k), maps either to
// its grid index or to a list of grid neighbours; the encoders round each group to levels, and a group
// that lands off the grid takes the neighbour with the least weighted squared error.

#include <cstdint>
#include <span>
#include <vector>

namespace qforge::fakequant::ggml {

struct IqGridSearch {
  int coordinates = 0;  // 8 (IQ1/IQ2 grids) or 4 (IQ3 grids)
  int bits = 0;         // bits per level in u: 2 or 3
  // Grid point i as odd values 2l + 1 (llama.cpp's the_grid), coordinates per point.
  std::vector<int8_t> points;
  // kmap: u -> grid index (>= 0), or -(offset + 1) of u's list in `neighbours`: [count, index...].
  std::vector<int32_t> kmap;
  std::vector<uint16_t> neighbours;
  // The levels of u's neighbours coordinate-major for the 16-lane search: level of neighbour j at coordinate
  // i is neighbour_levels[level_start[u] + i·padded + j], padded = count rounded up to 16 (zeros after).
  std::vector<uint8_t> neighbour_levels;
  std::vector<uint32_t> level_start;

  const int8_t* point(int index) const { return points.data() + static_cast<size_t>(index) * coordinates; }
  // The grid index of u, or -1 when u is off the grid.
  int grid_index(int u) const { return kmap[u] >= 0 ? kmap[u] : -1; }
  // iq2_find_best_neighbour / iq3_find_best_neighbour: among u's neighbours the one minimising
  // Σ w_i·(scale·g_i − x_i)² (f32, in coordinate order; the first of equal ones); writes its levels
  // (g − 1)/2 to L and returns its index. u must be off the grid.
  // best_neighbour scores from a table of the per-(coordinate, level) terms, best_neighbour_ref term by
  // term as llama.cpp does; both pick the same index (tests/fakequant/test_ggml_iq_grids.cpp).
  int best_neighbour(int u, const float* x, const float* weight, float scale, int8_t* L) const;
  int best_neighbour_ref(int u, const float* x, const float* weight, float scale, int8_t* L) const;
};

// Levels of one group of g.coordinates values at inverse scale id: nearest((id·x − 1)/2) clamped to
// [0, kmax_q − 1]; a group off the grid moves to its best neighbour at `scale`. Returns whether the
// rounded levels were on the grid.
bool iq_round_group(const IqGridSearch& g, int kmax_q, const float* xval, const float* waux, float id, float scale,
                    int8_t* L);

// The scale search shared by IQ2_XS, IQ3_XXS and IQ3_S (quantize_row_iq2_xs_impl, quantize_row_iq3_xxs_impl,
// quantize_row_iq3_s_impl): start scale max/(2·kmax_q − 1); trial inverse scales (2·kmax_q − 1 + is·step)/max
// for is = −is_limit..is_limit, each rounded group by group onto the grid (neighbours at 1/id), keeping the
// weighted least-squares scale of the best Σ(w·x·q)²/Σ(w·q²) (q = 2l + 1); then, if a kept group was off the
// grid (start_on_grid: whether no candidate kept counts as all on the grid), one more rounding at the kept
// scale of the off-grid groups (or of all, final_all_groups) and its least-squares scale. n: block values.
struct IqScaleSearch {
  int n, kmax_q, is_limit;
  float is_step;
  bool start_on_grid, final_all_groups;
};
float iq_search_scale(const IqGridSearch& g, const IqScaleSearch& p, const float* xval, const float* weight,
                      const float* waux, float max, int8_t* L);

// |x| of groups of 8 with their signs, 7 stored bits each (IQ2_XXS, IQ2_XS, IQ3_XXS): a group with an odd
// number of negatives keeps its least important element (smallest w·x²) at −|x|, so the eighth sign follows
// from the parity (ksigns_iq2xs).
void iq_fold_signs(const float* xb, const float* weight, int groups, float* xval, uint8_t* signs);

// Σ w·x·q and Σ w·q² with q = 2l + 1, in element order.
void iq_fit(int n, const float* xval, const float* weight, const int8_t* L, float& sumqx, float& sumq2);

// IQ1_S / IQ1_M (iq1_find_best_neighbour2): among u's neighbours the one minimising Σ w·(scale·xx[l] − x)²
// where l = (g − 1)/2 and xx the three shifted values of the block (−1 ± δ, ±δ, 1 ± δ); writes l to L.
int iq1_best_neighbour(const IqGridSearch& g, int u, const float* x, const float* weight, float scale,
                       const float* xx, int8_t* L);

// The order of n values ascending (llama.cpp sorts (value, index) pairs with qsort by value alone; glibc's
// qsort is a stable merge sort for these sizes, so equal values keep their index order).
void iq1_sorted_order(const float* x, int n, int* order);

// The search structure of a grid ("iq2_xxs", "iq2_xs", "iq2_s", "iq1_s" (IQ1_M too), "iq3_xxs",
// "iq3_s"), built on first use (thread-safe) and kept for the process. The neighbours of an off-grid u are
// the grid points at the nwant smallest distinct squared distances from u's levels, ordered by (distance,
// index): nwant 2 for IQ2_XXS/IQ2_XS/IQ3_XXS, 1 for IQ2_S, 3 for IQ1_S/IQ1_M/IQ3_S.
const IqGridSearch& iq_grid_search(const char* grid);

}  // namespace qforge::fakequant::ggml
