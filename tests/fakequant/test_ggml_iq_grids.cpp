// The IQ grid tables (fakequant/formats/ggml/iq_grids.h) equal llama.cpp's ggml-common.h tables entry for
// entry: the FNV-1a hash of each expanded table against the hash of llama.cpp's own
// (tests/golden/llama_quantize/grid_fnv.txt, grid_fnv.c compiled against its ggml-common.h), and the
// packed points have the properties the quantizer's kmap relies on (strictly ascending, levels in range).
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

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

}  // namespace
}  // namespace qforge::fakequant::ggml
