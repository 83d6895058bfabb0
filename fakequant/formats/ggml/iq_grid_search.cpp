#include "fakequant/formats/ggml/iq_grid_search.h"

#include <algorithm>
#include <cfloat>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif


#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {
namespace {

struct GridSpec {
  int coordinates, bits, nwant;
};

GridSpec spec_of(const std::string& grid) {
  if (grid == "iq2_xxs" || grid == "iq2_xs") return {8, 2, 2};
  if (grid == "iq2_s") return {8, 2, 1};
  if (grid == "iq1_s" || grid == "iq1_m") return {8, 2, 3};
  if (grid == "iq3_xxs") return {4, 3, 2};
  if (grid == "iq3_s") return {4, 3, 3};
  throw std::invalid_argument("iq_grid_search: unknown grid '" + grid + "'");
}

// u's neighbour list: the grid points at the nwant smallest distinct squared distances, by (distance,
// index) — what llama.cpp's qsort with iq2_compare_func then its cut after nwant distances gives.
void append_neighbours(const IqGridSearch& s, int u, int nwant, std::vector<int>& d2, std::vector<uint16_t>& out) {
  const int n_points = static_cast<int>(s.points.size()) / s.coordinates;
  const int mask = (1 << s.bits) - 1;
  for (int j = 0; j < n_points; ++j) {
    const int8_t* g = s.point(j);
    int d = 0;
    for (int k = 0; k < s.coordinates; ++k) {
      const int diff = g[k] - (2 * ((u >> (s.bits * k)) & mask) + 1);
      d += diff * diff;
    }
    d2[j] = d;
  }
  // Squared distances are small integers (at most 8·6² or 4·14²): mark them, take the nwant smallest.
  std::vector<char> seen(1024, 0);
  for (int j = 0; j < n_points; ++j) seen[d2[j]] = 1;
  std::vector<int> distances;
  for (int d = 0; d < 1024 && static_cast<int>(distances.size()) < nwant; ++d) {
    if (seen[d]) distances.push_back(d);
  }
  const size_t count_at = out.size();
  out.push_back(0);
  for (const int d : distances) {
    for (int j = 0; j < n_points; ++j) {
      if (d2[j] == d) out.push_back(static_cast<uint16_t>(j));
    }
  }
  out[count_at] = static_cast<uint16_t>(out.size() - count_at - 1);
}

IqGridSearch build(const std::string& grid) {
  const GridSpec spec = spec_of(grid);
  IqGridSearch s;
  s.coordinates = spec.coordinates;
  s.bits = spec.bits;
  const std::span<const uint16_t> packed = iq_grid_points(grid.c_str());
  const int mask = (1 << s.bits) - 1;
  for (const uint16_t p : packed) {
    for (int k = 0; k < s.coordinates; ++k) s.points.push_back(static_cast<int8_t>(2 * ((p >> (s.bits * k)) & mask) + 1));
  }
  // llama.cpp's kmap_size: 43692 for the 2-bit grids (u of levels 0..2 is at most 43690), 4096 = 8^4.
  const int kmap_size = s.bits == 2 ? 43692 : 4096;
  s.kmap.assign(static_cast<size_t>(kmap_size), -1);
  for (size_t i = 0; i < packed.size(); ++i) s.kmap[packed[i]] = static_cast<int32_t>(i);
  std::vector<int> d2(packed.size());
  for (int u = 0; u < kmap_size; ++u) {
    if (s.kmap[u] >= 0) continue;
    s.kmap[u] = -static_cast<int32_t>(s.neighbours.size()) - 1;
    append_neighbours(s, u, spec.nwant, d2, s.neighbours);
  }
  s.level_start.assign(static_cast<size_t>(kmap_size), 0);
  for (int u = 0; u < kmap_size; ++u) {
    if (s.kmap[u] >= 0) continue;
    const uint16_t* list = s.neighbours.data() + (-s.kmap[u] - 1);
    const int padded = (list[0] + 15) & ~15;
    s.level_start[u] = static_cast<uint32_t>(s.neighbour_levels.size());
    s.neighbour_levels.resize(s.neighbour_levels.size() + static_cast<size_t>(padded) * s.coordinates, 0);
    for (int j = 0; j < list[0]; ++j)
      for (int i = 0; i < s.coordinates; ++i)
        s.neighbour_levels[s.level_start[u] + i * padded + j] = static_cast<uint8_t>((s.point(list[1 + j])[i] - 1) / 2);
  }
  return s;
}

}  // namespace

int IqGridSearch::best_neighbour_ref(int u, const float* x, const float* weight, float scale, int8_t* L) const {
  const uint16_t* list = neighbours.data() + (-kmap[u] - 1);
  float best_d2 = FLT_MAX;
  int best = -1;
  for (int j = 1; j <= list[0]; ++j) {
    const int8_t* g = point(list[j]);
    float d2 = 0;
    for (int i = 0; i < coordinates; ++i) {
      const float q = g[i];
      const float diff = scale * q - x[i];
      d2 += weight[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = list[j];
    }
  }
  if (best < 0) throw std::runtime_error("iq_grid_search: no neighbour improves on FLT_MAX (non-finite input?)");
  const int8_t* g = point(best);
  for (int i = 0; i < coordinates; ++i) L[i] = static_cast<int8_t>((g[i] - 1) / 2);
  return best;
}

// Each term w_i·(scale·q − x_i)² depends on the coordinate and its level only, so it is computed once per
// (coordinate, level) — 32 products for either grid family — instead of once per neighbour coordinate; the
// sum over coordinates then adds the same terms in the same order as best_neighbour_ref, so it is the same float.
// Each term w_i·(scale·q − x_i)² depends on the coordinate and its level only, so it is computed once per
// (coordinate, level) — 32 products for either grid family — instead of once per neighbour coordinate; the
// sum over coordinates then adds the same terms in the same order as best_neighbour_ref, so it is the same
// float. With AVX-512, 16 neighbours at once: each coordinate's terms sit in one register and the lanes'
// levels select them (permutexvar); the lanes are then taken in list order, the first of equal ones winning.
int IqGridSearch::best_neighbour(int u, const float* x, const float* weight, float scale, int8_t* L) const {
  const uint16_t* list = neighbours.data() + (-kmap[u] - 1);
  const int count = list[0];
  const int levels = 1 << bits;
  alignas(64) float term[8 * 8 + 16] = {};  // [coordinate][level]; padded so a 16-float load stays inside
  for (int i = 0; i < coordinates; ++i) {
    for (int l = 0; l < levels; ++l) {
      const float q = static_cast<float>(2 * l + 1);
      const float diff = scale * q - x[i];
      term[i * levels + l] = weight[i] * diff * diff;
    }
  }
  float best_d2 = FLT_MAX;
  int best = -1;
#if defined(__AVX512F__)
  const int padded = (count + 15) & ~15;
  const uint8_t* lv = neighbour_levels.data() + level_start[u];
  alignas(64) float d2s[16];
  for (int first = 0; first < count; first += 16) {
    __m512 d2 = _mm512_setzero_ps();
    for (int i = 0; i < coordinates; ++i) {
      const __m512i level = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lv + i * padded + first)));
      d2 = _mm512_add_ps(d2, _mm512_permutexvar_ps(level, _mm512_loadu_ps(term + i * levels)));
    }
    _mm512_store_ps(d2s, d2);
    for (int j = 0; j < 16 && first + j < count; ++j) {
      if (d2s[j] < best_d2) {
        best_d2 = d2s[j];
        best = list[1 + first + j];
      }
    }
  }
#else
  for (int j = 1; j <= count; ++j) {
    const int8_t* g = point(list[j]);
    float d2 = 0;
    for (int i = 0; i < coordinates; ++i) d2 += term[i * levels + ((g[i] - 1) >> 1)];
    if (d2 < best_d2) {
      best_d2 = d2;
      best = list[j];
    }
  }
#endif
  if (best < 0) throw std::runtime_error("iq_grid_search: no neighbour improves on FLT_MAX (non-finite input?)");
  const int8_t* g = point(best);
  for (int i = 0; i < coordinates; ++i) L[i] = static_cast<int8_t>((g[i] - 1) / 2);
  return best;
}

bool iq_round_group(const IqGridSearch& g, int kmax_q, const float* xval, const float* waux, float id, float scale,
                    int8_t* L) {
  int u = 0;
  for (int i = 0; i < g.coordinates; ++i) {
    const int l = std::clamp(nearest_int(0.5f * (id * xval[i] - 1)), 0, kmax_q - 1);
    L[i] = static_cast<int8_t>(l);
    u |= l << (g.bits * i);
  }
  if (g.grid_index(u) >= 0) return true;
  g.best_neighbour(u, xval, waux, scale, L);
  return false;
}

void iq_fit(int n, const float* xval, const float* weight, const int8_t* L, float& sumqx, float& sumq2) {
  sumqx = sumq2 = 0;
  for (int i = 0; i < n; ++i) {
    const float q = 2 * L[i] + 1;
    sumqx += weight[i] * xval[i] * q;
    sumq2 += weight[i] * q * q;
  }
}

float iq_search_scale(const IqGridSearch& g, const IqScaleSearch& p, const float* xval, const float* weight,
                      const float* waux, float max, int8_t* L) {
  const int groups = p.n / g.coordinates;
  bool on_grid[8], on_grid_aux[8];
  std::fill(on_grid, on_grid + groups, p.start_on_grid);
  float scale = max / (2 * p.kmax_q - 1), best = 0, sumqx, sumq2;
  int8_t Laux[32];
  for (int is = -p.is_limit; is <= p.is_limit; ++is) {
    const float id = (2 * p.kmax_q - 1 + is * p.is_step) / max;
    const float this_scale = 1 / id;
    for (int k = 0; k < groups; ++k) {
      const int at = g.coordinates * k;
      on_grid_aux[k] = iq_round_group(g, p.kmax_q, xval + at, waux + at, id, this_scale, Laux + at);
    }
    iq_fit(p.n, xval, weight, Laux, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::copy(Laux, Laux + p.n, L);
      std::copy(on_grid_aux, on_grid_aux + groups, on_grid);
    }
  }
  if (std::all_of(on_grid, on_grid + groups, [](bool b) { return b; }) || scale <= 0) return scale;
  const float id = 1 / scale;
  for (int k = 0; k < groups; ++k) {
    if (on_grid[k] && !p.final_all_groups) continue;
    const int at = g.coordinates * k;
    iq_round_group(g, p.kmax_q, xval + at, waux + at, id, scale, L + at);
  }
  iq_fit(p.n, xval, weight, L, sumqx, sumq2);
  if (sumq2 > 0) scale = sumqx / sumq2;
  return scale;
}

void iq_fold_signs(const float* xb, const float* weight, int groups, float* xval, uint8_t* signs) {
  for (int k = 0; k < groups; ++k) {
    int nflip = 0;
    uint8_t s = 0;
    for (int i = 0; i < 8; ++i) {
      const float v = xb[8 * k + i];
      xval[8 * k + i] = v >= 0 ? v : -v;
      if (v < 0) { ++nflip; s = static_cast<uint8_t>(s | (1 << i)); }
    }
    if (nflip % 2) {
      int imin = 0;
      float min = weight[8 * k] * xb[8 * k] * xb[8 * k];
      for (int i = 1; i < 8; ++i) {
        const float ax = weight[8 * k + i] * xb[8 * k + i] * xb[8 * k + i];
        if (ax < min) { min = ax; imin = i; }
      }
      xval[8 * k + imin] = -xval[8 * k + imin];
      s = static_cast<uint8_t>(s ^ (1 << imin));
    }
    signs[k] = s & 127;
  }
}

int iq1_best_neighbour(const IqGridSearch& g, int u, const float* x, const float* weight, float scale,
                       const float* xx, int8_t* L) {
  const uint16_t* list = g.neighbours.data() + (-g.kmap[u] - 1);
  float best_d2 = FLT_MAX;
  int best = -1;
  for (int j = 1; j <= list[0]; ++j) {
    const int8_t* p = g.point(list[j]);
    float d2 = 0;
    for (int i = 0; i < 8; ++i) {
      const float q = xx[(p[i] - 1) / 2];
      const float diff = scale * q - x[i];
      d2 += weight[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = list[j];
    }
  }
  if (best < 0) throw std::runtime_error("iq1_best_neighbour: no neighbour improves on FLT_MAX (non-finite input?)");
  const int8_t* p = g.point(best);
  for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>((p[i] - 1) / 2);
  return best;
}

void iq1_sorted_order(const float* x, int n, int* order) {
  for (int i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order, order + n, [x](int a, int b) { return x[a] < x[b]; });
}

const IqGridSearch& iq_grid_search(const char* grid) {
  static std::mutex mutex;
  static std::map<std::string, IqGridSearch> built;
  const std::string name = std::string(grid) == "iq1_m" ? "iq1_s" : grid;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = built.find(name);
  if (it == built.end()) it = built.emplace(name, build(name)).first;
  return it->second;
}

}  // namespace qforge::fakequant::ggml
