#pragma once
// The element formats of a QuantizerSpec in one table: one row per ElementFormat with its name, width,
// grid extremes and storage codec. The spec parser, the value grid, quantized tensors, the KL observer
// and the CLI help all read it, so adding a format is one row here plus one rounding functor for the
// templated kernels (kernels/fast_rounding.h, dispatched in kernels/fake_quant_elements.h).
// Plain data, no Eigen, no autograd.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace qforge::fakequant {

// The values one element can take, before scaling. The order is the row order of the table.
enum class ElementFormat {
  kInt,      // 2..8-bit integers, symmetric or asymmetric (fakequant/quant_math.h)
  kFp8E4M3,  // OCP OFP8, max 448 (fakequant/formats/fp8.h)
  kFp8E5M2,  // OCP OFP8, max 57344
  kFp4E2M1,  // OCP MX E2M1, max 6 (formats/fp4.h)
  kNf4,      // QLoRA NormalFloat, values in [-1, 1] (formats/nf4.h)
  kFp16,     // IEEE binary16 rounding, no scale (formats/half.h)
  kBf16,     // bfloat16 rounding, no scale
  kTernary,  // {-1, 0, 1}: 1.58-bit weights (BitNet b1.58, ParetoQ), stored as 2-bit codes
};
inline constexpr int kElementFormatCount = static_cast<int>(ElementFormat::kTernary) + 1;

// Integer widths a spec may ask for (QuantizerSpec::bits with kInt).
inline constexpr int kIntMinBits = 2;
inline constexpr int kIntMaxBits = 8;

// One row of the table. The integer row's width, maximum and KL level count depend on the spec's bits
// and symmetry (IntFormat in quant_math.h), and its codes on the zero point (quantize_value /
// dequantize_value), so those columns are 0 / nullptr there and the readers use the spec's int grid.
struct ElementFormatTraits {
  ElementFormat format;
  const char* name;     // config and scheme spelling ("int" takes its width: "int4")
  int bits;             // bits per element; 0 for int (QuantizerSpec::bits)
  bool scaled;          // false: the format only rounds (fp16, bf16): no scale, no zero point
  float max_magnitude;  // largest finite |value| of the grid (v = x / scale); 0 for int
  float min_magnitude;  // smallest nonzero |value|: 1 code for int, the smallest subnormal for floats
  // Non-negative grid values, the levels the KL observer (Migacz 2017) merges histogram bins into;
  // 0 for int (from bits, symmetry and the data) and for the unscaled formats (KL does not clip them).
  int64_t kl_levels;
  // Float grids: storage code of v (already divided by the scale), round to nearest and saturating
  // at ±max_magnitude, never an inf/NaN code; v must not be NaN. nullptr for int.
  int32_t (*encode)(float v);
  float (*decode)(int32_t code);     // value of a code; nullptr for int
  float (*round)(float v);           // decode(encode(v)) in one call: the round-to-format; nullptr for int
  bool (*valid_code)(int32_t code);  // codes encode can produce (finite, in range); nullptr for int
  // Information per element when it is below the storage width `bits` (ternary: log2(3) = 1.58 of 2
  // stored bits); 0: `bits`. QuantizerSpec::bits_per_element counts this one.
  double nominal_bits = 0.0;

  bool is_integer() const { return format == ElementFormat::kInt; }
};

namespace detail {
extern const ElementFormatTraits kElementFormatTable[kElementFormatCount];  // element_formats.cpp
[[noreturn]] void throw_unknown_element_format(ElementFormat format);
}  // namespace detail

// Every row, in ElementFormat order.
std::span<const ElementFormatTraits> element_format_table();

// The row of `format`: an inline array index, cheap enough for per-value scalar code such as
// value_grid.h fake_quantize_value in the MSE observer's search (std::invalid_argument for a value
// outside the enum).
inline const ElementFormatTraits& element_format_traits(ElementFormat format) {
  const auto index = static_cast<unsigned>(format);
  if (index >= static_cast<unsigned>(kElementFormatCount)) [[unlikely]] {
    detail::throw_unknown_element_format(format);
  }
  return detail::kElementFormatTable[index];
}

// The row named `name` (exact spelling), or nullptr.
const ElementFormatTraits* find_element_format(std::string_view name);

// "int, fp8_e4m3, fp8_e5m2, fp4_e2m1, nf4, fp16, bf16": the names element_format_from_name accepts.
std::string element_format_names();
// "int2..int8, fp8_e4m3, ...": the format heads of a scheme string (quantizer_spec.h parse_scheme).
std::string scheme_format_names();

}  // namespace qforge::fakequant
