#pragma once
// FP8 E4M3 Linear weights as compressed-tensors' `float-quantized` format stores them (llm-compressor's
// FP8 / FP8_DYNAMIC schemes, loaded by vLLM; docs/hf-quantized.md §7): the E4M3 bytes, one scale per
// tensor or per output row in the model's dtype, and for static activation quantization the input's
// per-tensor scale. W = decode_e4m3(code) * scale.
#include <optional>
#include <string>
#include <vector>

#include "exporters/hf/quant/hf_quant.h"

namespace qforge::exporters::hf::quant {

enum class Fp8Strategy { kTensor, kChannel };  // weight_scale [1] or [out, 1]
// The input_activations group of the config: none (weight-only), static per-tensor (input_scale stored),
// dynamic per-tensor or dynamic per-token (computed at run time, nothing stored).
enum class Fp8Activations { kNone, kStaticTensor, kDynamicTensor, kDynamicToken };

struct Fp8Options {
  Fp8Strategy strategy = Fp8Strategy::kChannel;
  Fp8Activations activations = Fp8Activations::kDynamicToken;
  ScaleDtype scale_dtype = ScaleDtype::kBF16;  // the model's dtype
  std::vector<std::string> ignore = {"lm_head"};
};

struct Fp8Weight {
  std::string name;  // module prefix P: "P.weight", "P.weight_scale", "P.input_scale"
  int64_t out = 0, in = 0;
  std::vector<uint8_t> codes;        // [out * in] E4M3 bytes (fakequant/formats/fp8.h), no NaN pattern
  std::vector<float> scales;         // [1] or [out], positive and finite
  std::optional<float> input_scale;  // static activations only
};

// Throws std::invalid_argument "<name>: ..." on sizes that disagree with `options`, a NaN code
// (0x7F / 0xFF), a scale that is not positive and finite, or an input scale present exactly when the
// activations are not static.
void validate(const Fp8Weight& w, const Fp8Options& options);

// P.weight F8_E4M3 [out, in], P.weight_scale [1] or [out, 1], P.input_scale [1] when static; scales
// rounded once to options.scale_dtype (scale_tensor).
std::vector<FileTensor> pack_fp8(const Fp8Weight& w, const Fp8Options& options);
// The weight `prefix` back; the scale dtype is the file's (F16, BF16 or F32). std::invalid_argument
// naming the tensor that is missing or has the wrong dtype or shape.
Fp8Weight unpack_fp8(const std::string& prefix, const FileTensors& tensors, const Fp8Options& options);

// W[out * in] = decode_e4m3(code) * scale in float32 (vLLM multiplies in the model's dtype).
std::vector<float> dequantize_fp8(const Fp8Weight& w);

// compressed-tensors' min-max FP8 quantization of a float32 weight [out, in]: scale = max|W| / 448 over
// the tensor or the row, rounded to options.scale_dtype first (an all-zero group gets that dtype's
// machine epsilon, as compressed-tensors does), then code = e4m3_rne(clamp(W / scale, -448, 448)) with
// the division in float32. input_scale is left empty.
Fp8Weight quantize_fp8(const std::string& name, const std::vector<float>& weight, int64_t out, int64_t in,
                       const Fp8Options& options);

// quantization_config (format "float-quantized") and its reader.
std::string fp8_config(const Fp8Options& options);
Fp8Options fp8_options(const std::string& config_json);

}  // namespace qforge::exporters::hf::quant
