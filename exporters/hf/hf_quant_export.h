#pragma once
// `qforge export --format hf --quant NAME`: the quantized Hugging Face layouts a run's Linear weights can
// be written in (docs/hf.md §11; the tensors and configs: docs/hf-quantized.md). One table, one row per
// layout: `--help`, the refusals and the reader (hf_quant_import.h, by quantization_config.quant_method and,
// where one method has several rows, the keys that tell them apart) all read it. The packers and unpackers are
// exporters/hf/quant's.
//
// Where the codes come from (exporters::LlamaExport): a run whose Linear weights carry integer codes
// (QAT, `quantize --method rtn|gptq|awq`, GPTQ act-order with dynamic groups) for gptq, awq and w4a16;
// NF4 codes (an nf4:gN scheme run, or a QLoRA run's packed NF4 base) for bnb-nf4, which quantizes a float
// run's weights at export instead; for bnb-fp4 a QLoRA run's packed bnb_fp4 base (or its fp4 base where
// every code has a bitsandbytes value), or a float run quantized at export as bitsandbytes does; int8 per-channel codes (`quantize --method llm_int8`, rtn / smoothquant
// with int8:channel) for bnb-int8 and w8a8-int8; FP8 E4M3 codes per tensor or channel for fp8-e4m3; a
// `quantize --method spqr` run's SpQR state for spqr; a `quantize --method quip_sharp:fused` run's QuIP#
// states for quip-sharp (its own config key, quip_params, and fused qkv_proj / upgate_proj modules). Every quantized Linear of the model must share one
// scheme (the quantization_config is global); Linears left float (lm_head always, kept-float layers) are
// listed where the loader looks for them (modules_to_not_convert, ignore, llm_int8_skip_modules); embeddings,
// norms and biases stay float. A quantized lm_head or embedding is written as its dequantized values.
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/hf/hf_model_reader.h"
#include "exporters/hf/quant/hf_quant.h"
#include "exporters/model_export.h"

namespace qforge::exporters::hf {

struct HfQuantFormat;
/// The part of one export a row packs (below).
struct QuantizedExport;
using HfQuantPacker = QuantizedExport (*)(const LlamaExport& model, const HfQuantFormat& format,
                                         const std::string& float_dtype);

/// How the reader (hf_quant_import.h) unpacks a row's modules: the integer table (quant/hf_quant_layouts.h)
/// or one of the layouts of their own (docs/hf-quantized.md §5-§9).
enum class HfQuantKind { kInteger, kBnb4Bit, kBnbInt8, kFp8, kSpqr, kQuipSharp };

/// The config.json key of the transformers layouts' config.
inline constexpr std::string_view kQuantizationConfig = "quantization_config";

// One key of quantization_config that a row reads.
struct HfQuantConfigKey {
  std::string_view key, value;  // value "true" matches JSON true, else the string; key "": unused
  bool is_default;              // an absent (or null) key reads as `value` (the loader's default)
};

struct HfQuantFormat {
  std::string_view name;          // --quant value
  // The config.json key that holds the row's config: kQuantizationConfig, or quip-sharp's "quip_params"
  // (its loader, lib/utils/unsafe_import.py, tells a quantized folder by that key); a folder holding it
  // is read with this row.
  std::string_view config_object;
  std::string_view quant_method;  // quantization_config.quant_method ("" for a row of its own config_object)
  // What tells this row from another of the same quant_method in quantization_config, every used key
  // holding: compressed-tensors' "format" (pack-quantized, float-quantized, int-quantized), bitsandbytes'
  // "load_in_4bit" / "load_in_8bit" (value "true") and, for 4-bit, "bnb_4bit_quant_type" (absent means
  // "fp4", BitsAndBytesConfig's default); none when the method has one row.
  HfQuantConfigKey told_by[2];
  HfQuantKind kind;
  std::string_view layout;        // kInteger: its row of quant/hf_quant_layouts.h; kBnb4Bit: bnb_4bit_quant_type
  std::string_view holds;         // the schemes it holds, for --help and the refusals
  bool symmetric_only;            // no zero points (GPTQ v1, docs/hf-quantized.md §2)
  bool act_order;                 // a g_idx can be stored
  bool lists_float_modules;       // the config names the Linears left float; else every decoder Linear is quantized
  bool bf16_scales;               // BF16 scales can be stored (a scale_bf16 scheme keeps them)
  bool f32_scales;                // F32 scales can be stored (a scheme with float32 scales keeps them exactly)
  std::string_view marker;        // "P.<marker>" in a folder says module P is packed (hf_quant_import.h)
  HfQuantPacker pack;             // the run's codes into this layout
};

std::span<const HfQuantFormat> hf_quant_formats();
/// std::invalid_argument listing the names (and what each holds) when `name` is not a row.
const HfQuantFormat& hf_quant_format(std::string_view name);
/// The row a config object (parsed JSON) under config.json key `object` describes: the row of that
/// config_object, and for kQuantizationConfig by its quant_method, then the told_by keys. std::invalid_argument
/// naming the key ("key 'quant_method': \"hqq\" is not read (gptq, ...)", "key 'format': ...", "key
/// 'bnb_4bit_quant_type': ...") when no row reads it.
const HfQuantFormat& hf_quant_format_for_config(const nlohmann::json& config, std::string_view object = kQuantizationConfig);
/// "gptq: ...; awq: ..." for --help.
std::string hf_quant_help();

/// The quantized part of one export.
struct QuantizedExport {
  std::map<std::string, std::vector<quant::FileTensor>> packed;  // by the weight they replace ("P.weight")
  std::string config_json;                                       // config.json's quantization_config
  std::string source;                                            // where the codes came from, for the line
  std::vector<std::string> notes;                                // printed by the exporter
  bool inputs_stated = false;  // the config states the input quantization (the run's notes on it are dropped)
};

/// Packs every quantized Linear weight of `model` into `format`; `float_dtype` ("float32", "float16",
/// "bfloat16") is the dtype of the file's float tensors (bitsandbytes records it). Throws
/// std::invalid_argument "export --format hf --quant NAME: <tensor>: ..." naming the layer and its
/// scheme when the layout cannot hold it, when two layers' schemes differ, or when there are no codes.
QuantizedExport quantize_for_hf(const LlamaExport& model, const HfQuantFormat& format, const std::string& float_dtype);

// ---- Shared by the rows' packers (hf_quant_export.cpp, hf_quant_export_bnb.cpp) ----

/// The Linear weights of `config` in model order (lm_head last, when not tied).
std::vector<ExpectedTensor> linear_weights(const layers::LlamaConfig& config);
/// std::invalid_argument "export --format hf --quant NAME: what".
[[noreturn]] void refuse_quant(const HfQuantFormat& format, const std::string& what);
/// The rows' packers: the integer table (hf_quant_export.cpp), bnb-nf4 and bnb-fp4 (hf_quant_export_bnb.cpp),
/// bnb-int8, fp8-e4m3 and w8a8-int8 (hf_quant_export_8bit.cpp), spqr (hf_quant_export_spqr.cpp), quip-sharp
/// (hf_quant_export_quip_sharp.cpp).
QuantizedExport quantize_integers(const LlamaExport& model, const HfQuantFormat& format, const std::string& float_dtype);
QuantizedExport quantize_bnb_4bit(const LlamaExport& model, const HfQuantFormat& format, const std::string& float_dtype);
QuantizedExport quantize_bnb_int8(const LlamaExport& model, const HfQuantFormat& format, const std::string& float_dtype);
QuantizedExport quantize_fp8_e4m3(const LlamaExport& model, const HfQuantFormat& format, const std::string& float_dtype);
QuantizedExport quantize_w8a8_int8(const LlamaExport& model, const HfQuantFormat& format, const std::string& float_dtype);
QuantizedExport quantize_spqr(const LlamaExport& model, const HfQuantFormat& format, const std::string& float_dtype);
QuantizedExport quantize_quip_sharp(const LlamaExport& model, const HfQuantFormat& format, const std::string& float_dtype);
/// The input quantizer of `weight` as the run has it, or nullptr (docs/hf-quantized.md §6-§8 read it).
const InputQuantizerExport* input_quantizer(const LlamaExport& model, const std::string& weight);
/// The weight codes of a quantized Linear a row cannot take: std::invalid_argument naming the weight, how
/// the run quantized it and what the row holds.
[[noreturn]] void refuse_codes(const HfQuantFormat& format, const LlamaExport& model, const std::string& weight);

}  // namespace qforge::exporters::hf
