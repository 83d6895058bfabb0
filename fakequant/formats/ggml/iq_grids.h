#pragma once
// The lattice grids of llama.cpp's IQ1/IQ2/IQ3 types (ggml-common.h iq2xxs_grid, iq2xs_grid, iq2s_grid,
// iq3xxs_grid, iq3s_grid, iq1s_grid) and the sign table ksigns_iq2xs, docs/gguf.md §6.
// Each grid point is a group of 8 (IQ1/IQ2) or 4 (IQ3) small levels l. The points are kept as
// llama.cpp's quantizer keeps them, one uint16 per point with 2 or 3 bits per coordinate (the kgrid_*
// arrays of iq2xs_init_impl / iq3xs_init_impl in ggml-quants.c, ascending); the tables the decoders read
// are those points with each level replaced by its stored byte:
//   IQ2_XXS, IQ2_XS, IQ2_S  l = 0, 1, 2        -> 0x08, 0x19, 0x2b (8, 25, 43)
//   IQ3_XXS                 l = 0..7           -> 4, 12, 20, 28, 36, 44, 52, 62
//   IQ3_S                   l = 0..7           -> 2l + 1
//   IQ1_S, IQ1_M            l = 0, 1, 2        -> -1, 0, +1 (int8)
// (found by comparing both of llama.cpp's tables; test_ggml_iq_grids checks every expanded table
// against the hash of llama.cpp's own, tests/golden/llama_quantize/grid_fnv.txt).

#include <array>
#include <cstdint>
#include <span>

namespace qforge::fakequant::ggml {

// Dequantization tables, laid out as in ggml-common.h (byte j of entry i is coordinate j).
extern const std::array<uint64_t, 256> kIQ2XXSGrid;
extern const std::array<uint64_t, 512> kIQ2XSGrid;
extern const std::array<uint64_t, 1024> kIQ2SGrid;
extern const std::array<uint32_t, 256> kIQ3XXSGrid;
extern const std::array<uint32_t, 512> kIQ3SGrid;
extern const std::array<uint64_t, 2048> kIQ1SGrid;
// ksigns_iq2xs: 7 sign bits s plus an eighth that makes the number of set bits even (the quantizer
// flips the sign of the least important element when a group has an odd number of negatives).
extern const std::array<uint8_t, 128> kSignsIQ2XS;

// The packed points (2 bits per coordinate for grid sizes 256/512/1024/2048 of the IQ2/IQ1 types, 3 bits
// for the IQ3 grids), as the quantizer's neighbour search starts from them. grid: "iq2_xxs", "iq2_xs",
// "iq2_s", "iq1_s" (IQ1_M shares it), "iq3_xxs", "iq3_s".
std::span<const uint16_t> iq_grid_points(const char* grid);

// Sign bit j of an 8-element group (kmask_iq2xs[j] = 1 << j).
inline bool iq_sign(uint8_t signs, int j) { return (signs >> j) & 1; }

}  // namespace qforge::fakequant::ggml
