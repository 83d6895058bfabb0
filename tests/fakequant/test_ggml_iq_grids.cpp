// The IQ grid tables (fakequant/formats/ggml/iq_grids.h) equal llama.cpp's ggml-common.h tables entry for
// entry: the FNV-1a hash of each expanded table against the hash of llama.cpp's own
// (tests/golden/llama_quantize/grid_fnv.txt, grid_fnv.c compiled against its ggml-common.h), and the
// packed points have the properties the quantizer's kmap relies on (strictly ascending, levels in range).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <bit>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "fakequant/formats/ggml/iq_grid_search.h"
#include "fakequant/formats/ggml/iq_grids.h"

namespace qforge::fakequant::ggml {
namespace {

const std::string kGolden = std::string(QFORGE_SOURCE_DIR) + "/tests/golden/llama_quantize/grid_fnv.txt";

template <typename T, size_t N>
std::pair<size_t, std::string> fnv1a(const std::array<T, N>& table) {
  static_assert(std::endian::native == std::endian::little, "grid_fnv.txt hashes little-endian bytes");
  const auto* p = reinterpret_cast<const unsigned char*>(table.data());
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < sizeof(T) * N; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  return {N, hex};
}

std::map<std::string, std::pair<size_t, std::string>> llama_cpp_hashes() {
  std::ifstream in(kGolden);
  std::map<std::string, std::pair<size_t, std::string>> out;
  std::string name, hash;
  size_t n = 0;
  while (in >> name >> n >> hash) out[name] = {n, hash};
  return out;
}

TEST(GgmlIqGrids, TablesHashAsLlamaCpp) {
  const auto want = llama_cpp_hashes();
  ASSERT_EQ(want.size(), 8u) << kGolden;
  EXPECT_EQ(fnv1a(kIQ2XXSGrid), want.at("iq2xxs_grid"));
  EXPECT_EQ(fnv1a(kIQ2XSGrid), want.at("iq2xs_grid"));
  EXPECT_EQ(fnv1a(kIQ2SGrid), want.at("iq2s_grid"));
  EXPECT_EQ(fnv1a(kIQ3XXSGrid), want.at("iq3xxs_grid"));
  EXPECT_EQ(fnv1a(kIQ3SGrid), want.at("iq3s_grid"));
  EXPECT_EQ(fnv1a(kIQ1SGrid), want.at("iq1s_grid"));
  EXPECT_EQ(fnv1a(kSignsIQ2XS), want.at("ksigns_iq2xs"));
  std::array<uint8_t, 8> mask{};
  for (int j = 0; j < 8; ++j) mask[j] = static_cast<uint8_t>(iq_sign(static_cast<uint8_t>(1 << j), j) << j);
  EXPECT_EQ(fnv1a(mask), want.at("kmask_iq2xs"));
}

TEST(GgmlIqGrids, PointsAscendingWithLevelsInRange) {
  struct Grid { const char* name; size_t size; int bits, coordinates, max_level; };
  for (const Grid g : {Grid{"iq2_xxs", 256, 2, 8, 2}, Grid{"iq2_xs", 512, 2, 8, 2}, Grid{"iq2_s", 1024, 2, 8, 2},
                       Grid{"iq1_s", 2048, 2, 8, 2}, Grid{"iq3_xxs", 256, 3, 4, 7}, Grid{"iq3_s", 512, 3, 4, 7}}) {
    const auto points = iq_grid_points(g.name);
    ASSERT_EQ(points.size(), g.size) << g.name;
    for (size_t i = 0; i < points.size(); ++i) {
      if (i > 0) { EXPECT_LT(points[i - 1], points[i]) << g.name << " " << i; }
      EXPECT_LT(points[i], 1u << (g.bits * g.coordinates)) << g.name;
      for (int j = 0; j < g.coordinates; ++j) EXPECT_LE((points[i] >> (g.bits * j)) & ((1 << g.bits) - 1), g.max_level);
    }
  }
  EXPECT_EQ(iq_grid_points("iq1_m").data(), iq_grid_points("iq1_s").data());
  EXPECT_THROW(iq_grid_points("iq4_xs"), std::invalid_argument);
  for (int i = 0; i < 128; ++i) EXPECT_EQ(std::popcount(static_cast<unsigned>(kSignsIQ2XS[i])) % 2, 0) << i;
}

// The 16-lane neighbour search picks what the scalar loop picks, for every off-grid point of every grid
// (three random groups each, ties forced on some: integer x, equal weights, scale 1).
TEST(GgmlIqGrids, VectorNeighbourSearchEqualsScalar) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (const char* grid : {"iq2_xxs", "iq2_xs", "iq2_s", "iq1_s", "iq3_xxs", "iq3_s"}) {
    const IqGridSearch& g = iq_grid_search(grid);
    int64_t checked = 0, differing = 0;
    for (int u = 0; u < static_cast<int>(g.kmap.size()); ++u) {
      if (g.kmap[u] >= 0) continue;
      for (int trial = 0; trial < 3; ++trial) {
        float x[8], w[8];
        for (int i = 0; i < g.coordinates; ++i) {
          x[i] = trial == 2 ? static_cast<float>(2 * (u >> (g.bits * i) & ((1 << g.bits) - 1)) + 1) : std::fabs(normal(rng)) * 4;
          w[i] = trial == 2 ? 1.f : std::fabs(normal(rng));
        }
        const float scale = trial == 2 ? 1.f : 0.5f + std::fabs(normal(rng));
        int8_t fast[8], ref[8];
        const int a = g.best_neighbour(u, x, w, scale, fast), b = g.best_neighbour_ref(u, x, w, scale, ref);
        differing += a != b || std::memcmp(fast, ref, static_cast<size_t>(g.coordinates)) != 0;
        ++checked;
      }
    }
    EXPECT_EQ(differing, 0) << grid << ": of " << checked;
    EXPECT_GT(checked, 1000) << grid;
  }
}

}  // namespace
}  // namespace qforge::fakequant::ggml
