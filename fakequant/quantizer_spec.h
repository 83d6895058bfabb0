#pragma once
// QuantizerSpec: everything that says how one tensor (a weight or an input activation) is
// fake-quantized: the element format, which elements share a scale, how scales are stored, which
// surrogate gradient the backward uses and how the range is observed. Plain data, no Eigen, no
// autograd: configs, the CLI and exporters all read it.
#include <cstdint>
#include <string>

#include "fakequant/element_formats.h"
#include "fakequant/int_quantizer.h"

namespace qforge::fakequant {

// Storage type of scales (and of the super-block scales of two-level schemes). Scales are rounded
// to it (RNE) before they are used, so fake quantization sees what a file would store.
enum class ScaleDtype { kFp32, kFp16, kBf16 };

// Surrogate gradient of the FakeQuant op (forward is always quantize -> dequantize).
enum class Estimator {
  kSte,         // Bengio et al. 2013: dx = dy everywhere
  kClippedSte,  // dx = dy inside the representable range, 0 outside (PyTorch's fake_quantize_*)
  kLsq,         // Esser et al. 2020 (LSQ): learnable scale, grad scale 1/sqrt(numel * qmax)
  kLsqPlus,     // Bhalgat et al. 2020 (LSQ+): learnable scale and offset
  kPact,        // Choi et al. 2018 (PACT): learnable clipping level alpha for activations
  kSeq,         // Liu et al. 2025 (ParetoQ): stretched elastic quant, learnable alpha, balanced levels
};

enum class ObserverKind {
  kMinMax,               // running min / max
  kMovingAverageMinMax,  // EMA of per-batch min / max (torch.ao MovingAverageMinMaxObserver)
  kPercentile,           // clip at a percentile of |x| (or of x for asymmetric formats)
  kMse,                  // clipping ratio minimizing the quantization MSE (grid search)
  kKlEntropy,            // TensorRT-style KL-divergence calibration on a histogram
};

struct ObserverSpec {
  ObserverKind kind = ObserverKind::kMinMax;
  float averaging_constant = 0.01f;  // EMA weight of the new batch
  double percentile = 99.99;         // in percent
  int histogram_bins = 2048;         // KL
  int search_steps = 100;            // MSE: candidate clipping ratios 1, 1 - 1/steps, ...
  int64_t freeze_after_steps = -1;   // observe at most this many batches; -1 = never freeze
};

// Two-level ("double") quantization of the scales themselves, used by GGUF k-quants and QLoRA:
// groups are collected into super-blocks of `groups_per_super_block` scales; each super-block
// stores one super scale (in super_scale_dtype) and every group scale as an unsigned
// `scale_bits`-bit code, scale = super_scale * code. scale_bits = 0 switches it off. When it is on,
// QuantizerSpec::scale_dtype does not apply (group scales are stored as codes only); see
// fakequant/block_scales.h for the exact rule.
struct BlockScaleSpec {
  int scale_bits = 0;
  int64_t groups_per_super_block = 8;
  ScaleDtype super_scale_dtype = ScaleDtype::kFp16;
  bool enabled() const { return scale_bits > 0; }
};

struct QuantizerSpec {
  ElementFormat format = ElementFormat::kInt;
  int bits = 8;            // kInt only; the float formats have fixed widths
  bool symmetric = true;   // kInt only; the float formats are always symmetric
  GranularitySpec granularity;
  // Activations: one scale per row of the last dimension (per token), computed from that row's
  // absmax (or min/max) in every forward pass, no observer (W8A8 / LLM.int8()-style dynamic
  // quantization). Overrides `granularity`.
  bool dynamic_per_token = false;
  // With dynamic_per_token: LLM.int8()'s mixed-precision decomposition (Dettmers et al. 2022, §3.3).
  // Input columns (features) holding any |x| >= outlier_threshold anywhere in the current forward
  // are rounded to FP16 instead of quantized, and elements with |x| >= threshold are left out of every
  // row's range (bitsandbytes' int8_vectorwise_quant); 0 = off. Scheme token "outlier<t>", e.g.
  // "int8:token:outlier6" (fake_quant_op.h: fake_quant_dynamic).
  float outlier_threshold = 0.0f;
  ScaleDtype scale_dtype = ScaleDtype::kFp32;
  BlockScaleSpec block_scales;
  Estimator estimator = Estimator::kSte;
  ObserverSpec observer;
  // Format-exact GGUF quantization: a ggml type id (fakequant/formats/ggml/block_types.h: 8 Q8_0,
  // 6 Q5_0, 12 Q4_K, 14 Q6_K, 20 IQ4_NL; 1 F16 and 30 BF16 for the Q4_K_M mix's fallbacks), or -1.
  // When set, every row of the weight along its last dimension (GGUF ne0, the input dimension) goes
  // through the exporter's block codec (fakequant/fake_quant_ggml.h); the block layout fixes groups,
  // scales and rounding, so format, bits, granularity, scale dtypes and observer do not apply, and the
  // estimator is STE. Weights only.
  int ggml_type = -1;
  bool is_ggml_block() const { return ggml_type >= 0; }

  // Nominal storage cost per element including per-group scales and zero points (a zero point
  // costs `bits`), e.g. int4 g32 fp16 scales -> 4.5, int4 asym g32 fp16 -> 4.625, int4 g32 dq6 with
  // 8 groups per fp16 super scale -> 4 + (6 + 16/8)/32 = 4.25. Per-tensor, per-channel and per-token
  // scales are not counted (their cost depends on the shape).
  double bits_per_element() const;
  // Short human-readable form, e.g. "int4 sym g32 fp16-scales lsq minmax".
  std::string describe() const;
};

// Bits of one element: spec.bits for int, else the format's row of element_formats.h (fp8 8, fp4/nf4 4, ...).
int element_bits(const QuantizerSpec& spec);

// Throws std::invalid_argument naming `context` when the combination is not supported
// (e.g. bits outside 2..8, LSQ+ on a float format, PACT with per-group scales).
void validate(const QuantizerSpec& spec, const std::string& context);

// Names used by configs and the CLI: the element formats of element_formats.h ("int" "fp8_e4m3" ...);
// "fp32" "fp16" "bf16"; "ste" "clipped_ste" "lsq" "lsq_plus" "pact" "seq"; "minmax" "ema" "percentile"
// "mse" "kl". The parsers throw std::invalid_argument listing the accepted names.
ElementFormat element_format_from_name(const std::string& name);
std::string element_format_name(ElementFormat format);
ScaleDtype scale_dtype_from_name(const std::string& name);
std::string scale_dtype_name(ScaleDtype dtype);
Estimator estimator_from_name(const std::string& name);
std::string estimator_name(Estimator estimator);
ObserverKind observer_from_name(const std::string& name);
std::string observer_name(ObserverKind kind);

// Compact scheme strings for the CLI (`qforge quantize --scheme`, study grids): colon-separated
// tokens, first the format, then modifiers in any order:
//   int2..int8 | fp8_e4m3 | fp8_e5m2 | fp4_e2m1 | nf4 | fp16 | bf16 | ternary (element_formats.h)
//   sym | asym | tensor | channel | channel<axis> | g<size> | token (dynamic per token)
//   outlier<t> (with token: LLM.int8() columns with any |x| >= t kept in FP16, e.g. outlier6)
//   scale_fp16 | scale_bf16 | dq<bits> (two-level scales) | ste | clipped_ste | lsq | lsq_plus | pact | seq
//   minmax | ema | percentile | mse | kl
// e.g. "int4:g32:asym", "int8:token", "int8:token:outlier6", "nf4:g64:dq8". Defaults: sym, per channel along axis 0.
// GGUF block types, format-exact and without modifiers: the quantized ggml types with a codec
// (formats/ggml/block_types.h), in lower case: q5_0 | q8_0 | q4_k | q6_k | iq4_nl (QuantizerSpec::ggml_type).
QuantizerSpec parse_scheme(const std::string& text);
// `scheme` with per-group scales of `group_size` elements (`qforge quantize --group-size`): "int4" -> "int4:g128".
// std::invalid_argument when the scheme already names its granularity (tensor, channel, g<N>, token) or is
// a GGUF block type: one place says the grouping, so a flag never silently overrides the scheme.
std::string with_group_size(const std::string& scheme, int64_t group_size);
// The scheme token of an outlier threshold, "outlier" + the shortest decimal that parses back to t
// ("outlier6", "outlier0.5", "outlier1e+09"), so a scheme written by a method reads back exactly.
std::string outlier_token(float threshold);

// The scheme names of the GGUF block types, "q5_0, q8_0, q4_k, q6_k, iq4_nl", from the ggml type table.
std::string gguf_block_scheme_names();
// The grammar of parse_scheme for help texts (`qforge quantize --help`), its lists generated from the
// element format, observer and ggml type tables.
std::string scheme_help();

}  // namespace qforge::fakequant
