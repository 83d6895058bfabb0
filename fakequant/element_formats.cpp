#include "fakequant/element_formats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

#include "fakequant/formats/fp4.h"
#include "fakequant/formats/fp8.h"
#include "fakequant/formats/half.h"
#include "fakequant/formats/nf4.h"

namespace qforge::fakequant {
namespace {

bool byte_code(int32_t code) { return code >= 0 && code <= 0xFF; }
bool half_code(int32_t code) { return code >= 0 && code <= 0xFFFF; }

// Sign-keeping saturation of an overflow code to the largest finite code: fake quantization must stay
// finite, so FP16 / BF16 behave like the FP8 codecs' Fp8Mode::kSaturate (value_grid.h round_to_format).
int32_t saturate_16(uint16_t code, uint16_t inf_code, uint16_t max_code) {
  return (code & 0x7FFF) == inf_code ? (code & 0x8000) | max_code : code;
}

// The formats/ codecs adapted to the table's int32_t codes, one struct per float row.
// OCP OFP8 rev 1.0 §5: E4M3 has no inf and S.1111.111 is NaN; E5M2 is IEEE-like (0x7C.. inf / NaN).
struct E4m3 {
  static int32_t encode(float v) { return encode_e4m3(v, Fp8Mode::kSaturate); }
  static float decode(int32_t c) { return decode_e4m3(static_cast<uint8_t>(c)); }
  static bool valid(int32_t c) { return byte_code(c) && (c & 0x7F) != 0x7F; }
};
struct E5m2 {
  static int32_t encode(float v) { return encode_e5m2(v, Fp8Mode::kSaturate); }
  static float decode(int32_t c) { return decode_e5m2(static_cast<uint8_t>(c)); }
  static bool valid(int32_t c) { return byte_code(c) && (c & 0x7F) < 0x7C; }
};
// OCP MX v1.0 §5.3.3: E2M1 has no inf / NaN, every nibble is a value.
struct E2m1 {
  static int32_t encode(float v) { return encode_e2m1(v); }
  static float decode(int32_t c) { return decode_e2m1(static_cast<uint8_t>(c)); }
  static bool valid(int32_t c) { return c >= 0 && c <= 0xF; }
};
struct Nf4 {
  static int32_t encode(float v) { return encode_nf4(v); }
  static float decode(int32_t c) { return decode_nf4(static_cast<uint8_t>(c)); }
  static bool valid(int32_t c) { return c >= 0 && c <= 0xF; }
};
// IEEE 754-2008 binary16: 0x7C00 is inf, above it NaN.
struct Fp16 {
  static int32_t encode(float v) { return saturate_16(encode_fp16(v), 0x7C00, 0x7BFF); }
  static float decode(int32_t c) { return decode_fp16(static_cast<uint16_t>(c)); }
  static bool valid(int32_t c) { return half_code(c) && (c & 0x7FFF) < 0x7C00; }
};
// bfloat16 = the upper half of binary32: 0x7F80 is inf, above it NaN.
struct Bf16 {
  static int32_t encode(float v) { return saturate_16(encode_bf16(v), 0x7F80, 0x7F7F); }
  static float decode(int32_t c) { return decode_bf16(static_cast<uint16_t>(c)); }
  static bool valid(int32_t c) { return half_code(c) && (c & 0x7FFF) < 0x7F80; }
};

// Ternary: codes 0, 1, 2 for -1, 0, 1; v rounds to nearest (ties to even: +-0.5 -> 0) and saturates
// at +-1 (v must not be NaN, like every encode of the table).
struct Ternary {
  static int32_t encode(float v) { return static_cast<int32_t>(std::clamp(std::nearbyint(v), -1.0f, 1.0f)) + 1; }
  static float decode(int32_t c) { return static_cast<float>(c - 1); }
  static bool valid(int32_t c) { return c >= 0 && c <= 2; }
};

// decode(encode(v)) behind one pointer: value_grid.h's per-value rounding (called per sample and
// candidate by the MSE observer) then costs one indirect call, like the switch it replaces.
template <class Codec>
float round_trip(float v) {
  return Codec::decode(Codec::encode(v));
}

template <class Codec>
constexpr ElementFormatTraits float_row(ElementFormat format, const char* name, int bits, bool scaled, float max,
                                        float min, int64_t kl_levels) {
  return {format, name, bits, scaled, max, min, kl_levels, Codec::encode, Codec::decode, round_trip<Codec>, Codec::valid};
}

constexpr ElementFormatTraits ternary_row() {
  ElementFormatTraits row = float_row<Ternary>(ElementFormat::kTernary, "ternary", 2, true, 1.0f, 1.0f, 2);
  row.nominal_bits = 1.5849625007211562;  // log2(3)
  return row;
}

}  // namespace

namespace detail {

// Columns: format, name, bits, scaled, max |value|, smallest nonzero |value|, KL levels (non-negative
// values: the codes 0 .. max of the positive half).
constexpr ElementFormatTraits kElementFormatTable[kElementFormatCount] = {
    // Integer grid: qmin..qmax of the spec (quant_math.h IntFormat); codes need the zero point.
    {ElementFormat::kInt, "int", 0, true, 0.0f, 1.0f, 0, nullptr, nullptr, nullptr, nullptr},
    // OFP8 E4M3: max 448 (0x7E), smallest subnormal 2^-9, 127 non-negative codes 0x00..0x7E.
    float_row<E4m3>(ElementFormat::kFp8E4M3, "fp8_e4m3", 8, true, 448.0f, 0x1p-9f, 127),
    // OFP8 E5M2: max 57344 (0x7B), smallest subnormal 2^-16, codes 0x00..0x7B.
    float_row<E5m2>(ElementFormat::kFp8E5M2, "fp8_e5m2", 8, true, 57344.0f, 0x1p-16f, 124),
    // MX E2M1: ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}.
    float_row<E2m1>(ElementFormat::kFp4E2M1, "fp4_e2m1", 4, true, kE2m1Max, 0.5f, 8),
    // QLoRA (Dettmers et al. 2023) App. E: 16 values in [-1, 1], one zero (code 7), 8 positive values,
    // the smallest magnitude 0.0796 (code 8).
    float_row<Nf4>(ElementFormat::kNf4, "nf4", 4, true, 1.0f, kNf4Values[8], 9),
    // binary16: max 65504 (0x7BFF), smallest subnormal 2^-24; no scale, never clipped by KL.
    float_row<Fp16>(ElementFormat::kFp16, "fp16", 16, false, 65504.0f, 0x1p-24f, 0),
    // bfloat16: max 0x7F7F = (2 - 2^-7) * 2^127, smallest subnormal 2^-133.
    float_row<Bf16>(ElementFormat::kBf16, "bf16", 16, false, std::bit_cast<float>(uint32_t{0x7F7F0000u}), 0x1p-133f, 0),
    // Ternary {-1, 0, 1} (BitNet b1.58, Ma et al. 2024; ParetoQ's 1.58-bit, docs/seq.md §2): 2-bit codes
    // carrying log2(3) bits, 2 non-negative values.
    ternary_row(),
};

void throw_unknown_element_format(ElementFormat format) {
  throw std::invalid_argument("unknown element format " + std::to_string(static_cast<int>(format)) +
                              " (expected one of: " + element_format_names() + ")");
}

}  // namespace detail

namespace {

constexpr std::span<const ElementFormatTraits> kTable = detail::kElementFormatTable;

// element_format_traits indexes the table by the enum value; every slot must hold a row.
constexpr bool rows_in_enum_order() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].format) != i || kTable[i].name == nullptr) return false;
  }
  return true;
}
static_assert(rows_in_enum_order(), "one row per ElementFormat, in enum order");

}  // namespace

std::span<const ElementFormatTraits> element_format_table() { return kTable; }

const ElementFormatTraits* find_element_format(std::string_view name) {
  for (const ElementFormatTraits& row : kTable) {
    if (name == row.name) return &row;
  }
  return nullptr;
}

std::string element_format_names() {
  std::string names;
  for (const ElementFormatTraits& row : kTable) names += std::string(names.empty() ? "" : ", ") + row.name;
  return names;
}

std::string scheme_format_names() {
  std::string names;
  for (const ElementFormatTraits& row : kTable) {
    if (!names.empty()) names += ", ";
    names += row.is_integer() ? std::string(row.name) + std::to_string(kIntMinBits) + ".." + row.name +
                                    std::to_string(kIntMaxBits)
                              : std::string(row.name);
  }
  return names;
}

}  // namespace qforge::fakequant
