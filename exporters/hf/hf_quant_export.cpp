// The --quant table and the packing of a run's quantized Linears (hf_quant_export.h). What each layout
// holds is docs/hf-quantized.md §2-§9; what each loader expects in quantization_config, §2-§9 too
// (GPTQ converts every Linear of the decoder blocks, so it has no list of float modules).
#include "exporters/hf/hf_quant_export.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <stdexcept>

#include "exporters/hf/quant/adapter.h"
#include "exporters/hf/quant/bitsandbytes_layout.h"
#include "exporters/hf/quant/hf_quant_layouts.h"
#include "fakequant/formats/half.h"

namespace qforge::exporters::hf {
namespace {

namespace hq = quant;

using K = HfQuantKind;
constexpr std::string_view kQc = kQuantizationConfig;

constexpr HfQuantFormat kFormats[] = {
    {"gptq", kQc, "gptq", {}, K::kInteger, "gptq",
     "GPTQ v1 (AutoGPTQ, GPTQModel, transformers): int2/3/4/8 symmetric, groups (gN) or per-channel, act-order g_idx "
     "kept; every decoder Linear quantized",
     true, true, false, false, false, "qweight", &quantize_integers},
    {"awq", kQc, "awq", {}, K::kInteger, "awq",
     "AWQ GEMM (AutoAWQ, transformers, vLLM): int4 with zero points (asym, or sym stored as zero 8), groups (gN) or "
     "per-channel, no act-order; out a multiple of 8",
     false, false, true, false, false, "qweight", &quantize_integers},
    {"w4a16", kQc, "compressed-tensors", {{"format", "pack-quantized", false}, {}}, K::kInteger, "compressed-tensors",
     "compressed-tensors pack-quantized (llm-compressor W4A16, vLLM): int4 (also int2, int8), sym or asym, groups "
     "or per-channel, act-order g_idx kept",
     false, true, true, true, false, "weight_packed", &quantize_integers},
    {"bnb-nf4", kQc, "bitsandbytes", {{"load_in_4bit", "true", false}, {"bnb_4bit_quant_type", "nf4", false}}, K::kBnb4Bit,
     "nf4",
     "bitsandbytes NF4 (transformers load_in_4bit): nf4:gN runs (N a power of two, 32..4096), a QLoRA run's NF4 "
     "base, or a float run quantized at export (blocks of 64, double quantization)",
     false, false, true, false, false, "weight.absmax", &quantize_bnb_4bit},
    {"bnb-fp4", kQc, "bitsandbytes", {{"load_in_4bit", "true", false}, {"bnb_4bit_quant_type", "fp4", true}}, K::kBnb4Bit,
     "fp4",
     "bitsandbytes FP4 (transformers load_in_4bit, bnb_4bit_quant_type fp4): a float run quantized at export as "
     "bitsandbytes does (blocks of 64, double quantization), a QLoRA run's bnb_fp4 base, or its fp4 (E2M1) base "
     "when no code is E2M1's subnormal",
     false, false, true, false, false, "weight.absmax", &quantize_bnb_4bit},
    {"bnb-int8", kQc, "bitsandbytes", {{"load_in_8bit", "true", false}, {}}, K::kBnbInt8, "",
     "bitsandbytes LLM.int8() (transformers load_in_8bit): int8 symmetric per-channel codes (quantize --method "
     "llm_int8, or an int8:channel run), the run's outlier threshold as llm_int8_threshold",
     false, false, true, false, true, "SCB", &quantize_bnb_int8},
    {"fp8-e4m3", kQc, "compressed-tensors", {{"format", "float-quantized", false}, {}}, K::kFp8, "",
     "compressed-tensors float-quantized (llm-compressor FP8 / FP8_DYNAMIC, vLLM): fp8_e4m3 per tensor or per "
     "channel, inputs none, fp8_e4m3 per token (dynamic) or per tensor (static)",
     false, false, true, true, true, "weight_scale", &quantize_fp8_e4m3},
    {"w8a8-int8", kQc, "compressed-tensors", {{"format", "int-quantized", false}, {}}, K::kInteger, "w8a8-int8",
     "compressed-tensors int-quantized (llm-compressor W8A8 with SmoothQuant, vLLM): int8 per-channel sym or asym "
     "(smoothquant / rtn int8:channel), inputs int8 per token (dynamic)",
     false, false, true, true, true, "weight_scale", &quantize_w8a8_int8},
    {"spqr", kQc, "spqr", {}, K::kSpqr, "",
     "SpQR (transformers quant_method spqr): quantize --method spqr runs with 3-bit codes and statistics, tiles of "
     "16 x 16 (beta1 = beta2 = 16), in and out multiples of 16",
     false, false, true, false, false, "dense_weights", &quantize_spqr},
    {"quip-sharp", "quip_params", "", {}, K::kQuipSharp, "",
     "QuIP# E8P12 (Cornell-RelaxML/quip-sharp's own Llama: fused qkv_proj and upgate_proj): quantize --method "
     "quip_sharp:fused runs, every decoder Linear QuIP#, sizes 2^k or 12 * 2^k (out a multiple of 16, in of 64)",
     false, false, false, false, false, "Qidxs", &quantize_quip_sharp},
};

// What one quantized weight's codes are, for the one-scheme rule and the messages. A layer with one group
// per row (per-channel, or in = the group size) agrees with any group size; act-order is the config's when
// any layer has a g_idx that is not contiguous (one with in = group size has none of its own).
struct Scheme {
  int bits = 0;
  int64_t group_size = 0;  // columns per group of this layer
  bool per_row = false;    // group_size == in
  bool symmetric = true, act_order = false;
  std::string text;
  bool same_as(const Scheme& o) const {
    return bits == o.bits && symmetric == o.symmetric && (group_size == o.group_size || per_row || o.per_row);
  }
};

Scheme scheme_of(const fakequant::QuantizedTensor& q) {
  const fakequant::GranularitySpec g = fakequant::effective_granularity(q.shape, q.spec);
  const int64_t in = q.shape.ndim() == 2 ? q.shape[1] : 0;
  const int64_t group = g.kind == fakequant::Granularity::kPerGroup ? g.group_size : in;
  return {q.spec.bits, group, group == in, q.spec.symmetric, false, q.spec.describe()};
}

// Codes in the group-index form (GPTQ act-order with dynamic groups, a LoRA run's packed base from a
// quantized folder): symmetric when every zero point is 2^(bits-1).
Scheme scheme_of_group_index(const hq::GroupedIntWeight& w, bool act_order, const std::string& how) {
  const bool symmetric = std::all_of(w.zeros.begin(), w.zeros.end(), [&](int32_t z) { return z == 1 << (w.bits - 1); });
  return {w.bits, w.group_size, w.group_size == w.in, symmetric, act_order,
          "int" + std::to_string(w.bits) + (symmetric ? " sym" : " asym") + " g" + std::to_string(w.group_size) + " " + how};
}

// The config's group size: that of the layers with more than one group, else -1 (one group per row).
int64_t common_group_size(const std::vector<Scheme>& schemes) {
  for (const Scheme& s : schemes)
    if (!s.per_row) return s.group_size;
  return -1;
}

// The layer's codes in the integer layouts' form, checked against what `layout` holds.
std::optional<std::pair<hq::GroupedIntWeight, Scheme>> int_weight(const HfQuantFormat& f, const LlamaExport& m,
                                                                  const std::string& name) {
  const hq::HfQuantLayout& layout = hq::hf_quant_layout(f.layout);
  std::pair<hq::GroupedIntWeight, Scheme> out;
  if (const auto q = m.quantized.find(name); q != m.quantized.end()) {
    out.second = scheme_of(q->second);
    if (q->second.spec.format != fakequant::ElementFormat::kInt)
      refuse_quant(f, name + " (" + out.second.text + ") has no integer codes; " + std::string(f.name) + " holds " + std::string(f.holds));
    out.first = hq::grouped_int_weight(name, q->second);
  } else if (const auto g = m.group_index.find(name); g != m.group_index.end()) {
    out.first = hq::grouped_int_weight(name, g->second.state, g->second.codes);
    out.second = scheme_of_group_index(out.first, true, "act-order, dynamic groups (GPTQ)");
  } else if (const auto p = m.packed_base.find(name);
             p != m.packed_base.end() && std::dynamic_pointer_cast<const fakequant::PackedGroupIndexWeight>(p->second)) {
    const auto& packed = static_cast<const fakequant::PackedGroupIndexWeight&>(*p->second);
    out.first = hq::grouped_int_weight(name, packed.state(), packed.codes());
    out.second = scheme_of_group_index(out.first, !hq::has_contiguous_groups(out.first), "the LoRA run's packed base");
  } else {
    return std::nullopt;
  }
  const Scheme& s = out.second;
  const auto cannot = [&](const std::string& why) {
    refuse_quant(f, name + " (" + s.text + "): " + why + "; " + std::string(f.name) + " holds " + std::string(f.holds));
  };
  if (!layout.supports_bits(s.bits)) cannot(std::to_string(s.bits) + "-bit codes");
  if (!s.per_row) {  // a layout with one scale per output channel only (w8a8-int8)
    hq::HfQuantOptions groups;
    groups.bits = s.bits;
    groups.group_size = s.group_size;
    try {
      hq::check_options(layout, groups);
    } catch (const std::invalid_argument& e) {
      cannot(std::string("groups of ") + std::to_string(s.group_size) + " columns (" + e.what() + ")");
    }
  }
  if (f.symmetric_only && !s.symmetric) cannot("zero points (asymmetric), which it does not store");
  if (!f.act_order && s.act_order) cannot("an act-order g_idx, which it does not store");
  return out;
}

// How many scales the file's F16 / BF16 changes (docs/hf-quantized.md §1), as a note.
std::optional<std::string> scale_rounding_note(const std::vector<hq::GroupedIntWeight>& weights, hq::ScaleDtype dtype) {
  if (dtype == hq::ScaleDtype::kF32) return std::nullopt;
  size_t changed = 0, total = 0;
  for (const hq::GroupedIntWeight& w : weights)
    for (float s : w.scales) {
      ++total;
      changed += (dtype == hq::ScaleDtype::kF16 ? fakequant::round_to_fp16(s) : fakequant::round_to_bf16(s)) != s;
    }
  if (changed == 0) return std::nullopt;
  return std::to_string(changed) + " of " + std::to_string(total) + " scales are not " +
         (dtype == hq::ScaleDtype::kF16 ? "F16" : "BF16") + " values and are stored rounded to nearest even, so the "
         "file dequantizes to within that rounding of the run (a scheme with scale_fp16 exports exactly)";
}

}  // namespace

QuantizedExport quantize_integers(const LlamaExport& m, const HfQuantFormat& f, const std::string&) {
  std::vector<std::pair<std::string, hq::GroupedIntWeight>> weights;
  std::vector<std::string> float_modules;
  std::vector<Scheme> schemes;
  bool bf16_scales = false, f32_scales = true, act_order = false;
  for (const ExpectedTensor& t : linear_weights(m.model->config())) {
    const auto w = t.name == "lm_head.weight" ? std::nullopt : int_weight(f, m, t.name);
    if (!w) {
      float_modules.push_back(hq::module_prefix(t.name));
      continue;
    }
    for (size_t k = 0; k < schemes.size(); ++k)
      if (!schemes[k].same_as(w->second))
        refuse_quant(f, t.name + " (" + w->second.text + ") and " + weights[k].first + " (" + schemes[k].text +
                            ") differ; one quantization_config holds one scheme");
    schemes.push_back(w->second);
    const auto q = m.quantized.find(t.name);
    bf16_scales |= q != m.quantized.end() && q->second.spec.scale_dtype == fakequant::ScaleDtype::kBf16;
    f32_scales &= q != m.quantized.end() && q->second.spec.scale_dtype == fakequant::ScaleDtype::kFp32;
    act_order |= w->second.act_order;
    weights.emplace_back(t.name, w->first);
  }
  if (weights.empty())
    refuse_quant(f, "no Linear weight of the run has integer codes (a float run, or a LoRA run on a base without "
              "them: quantize it first, e.g. qforge quantize --checkpoint RUN --method gptq --scheme int4:g128)");
  if (!f.lists_float_modules && float_modules.size() > 1)  // lm_head is float in every checkpoint
    refuse_quant(f, float_modules.front() + " is float, but " + std::string(f.name) + "'s quantization_config converts "
              "every decoder Linear (awq and w4a16 list float layers)");
  hq::HfQuantOptions options;
  options.bits = schemes[0].bits;
  options.group_size = common_group_size(schemes);
  options.symmetric = schemes[0].symmetric;
  options.act_order = act_order;
  options.scale_dtype = f.bf16_scales && bf16_scales ? hq::ScaleDtype::kBF16
                        : f.f32_scales && f32_scales  ? hq::ScaleDtype::kF32
                                                      : hq::ScaleDtype::kF16;
  options.ignore = f.lists_float_modules ? float_modules : std::vector<std::string>{};
  const hq::HfQuantLayout& layout = hq::hf_quant_layout(f.layout);
  QuantizedExport out;
  std::vector<hq::GroupedIntWeight> packed;
  for (const auto& [name, w] : weights) {
    try {
      out.packed[name] = layout.pack(w, options);
    } catch (const std::invalid_argument& e) {
      refuse_quant(f, e.what());
    }
    packed.push_back(w);
  }
  out.config_json = layout.config(options);
  out.source = std::to_string(weights.size()) + " Linears " + schemes[0].text;
  if (auto note = scale_rounding_note(packed, options.scale_dtype)) out.notes.push_back(*note);
  return out;
}

void refuse_quant(const HfQuantFormat& format, const std::string& what) {
  throw std::invalid_argument("export --format hf --quant " + std::string(format.name) + ": " + what);
}

std::vector<ExpectedTensor> linear_weights(const layers::LlamaConfig& config) {
  std::vector<ExpectedTensor> out;
  for (const ExpectedTensor& t : expected_tensors(config))
    if (t.name.ends_with("_proj.weight") || t.name == "lm_head.weight") out.push_back(t);
  return out;
}

std::span<const HfQuantFormat> hf_quant_formats() { return kFormats; }

const HfQuantFormat& hf_quant_format(std::string_view name) {
  for (const HfQuantFormat& f : kFormats)
    if (f.name == name) return f;
  throw std::invalid_argument("export --format hf: --quant '" + std::string(name) + "' is not one of: " + hf_quant_help());
}

namespace {

bool holds_key(const nlohmann::json& c, const HfQuantConfigKey& k) {
  const auto v = c.find(std::string(k.key));
  if (v == c.end() || v->is_null()) return k.is_default;
  if (k.value == "true") return v->is_boolean() && v->get<bool>();
  return v->is_string() && v->get<std::string>() == k.value;
}

// "load_in_4bit true and bnb_4bit_quant_type fp4 (or absent)", for the refusal.
std::string told_by_text(const HfQuantFormat& f) {
  std::string out;
  for (const HfQuantConfigKey& k : f.told_by)
    if (!k.key.empty())
      out += (out.empty() ? "" : " and ") + std::string(k.key) + " " + std::string(k.value) + (k.is_default ? " (or absent)" : "");
  return out;
}

}  // namespace

const HfQuantFormat& hf_quant_format_for_config(const nlohmann::json& c, std::string_view object) {
  if (object != kQuantizationConfig) {
    for (const HfQuantFormat& f : kFormats)
      if (f.config_object == object) return f;
    throw std::invalid_argument("key '" + std::string(object) + "' is not a quantization config any --quant row reads");
  }
  if (!c.is_object() || !c.contains("quant_method") || !c["quant_method"].is_string())
    throw std::invalid_argument("key 'quant_method' missing or not a string");
  const std::string method = c["quant_method"].get<std::string>();
  std::string methods, variants, found;
  for (const HfQuantFormat& f : kFormats) {
    if (f.config_object != kQuantizationConfig) continue;
    if (f.quant_method != method) {
      if (methods.find(std::string(f.quant_method) + ",") == std::string::npos) methods += std::string(f.quant_method) + ", ";
      continue;
    }
    const auto failed = std::find_if(std::begin(f.told_by), std::end(f.told_by),
                                     [&](const HfQuantConfigKey& k) { return !k.key.empty() && !holds_key(c, k); });
    if (failed == std::end(f.told_by)) return f;
    variants += (variants.empty() ? "" : ", ") + told_by_text(f) + ": " + std::string(f.name);
    if (found.empty()) {
      const auto v = c.find(std::string(failed->key));
      found = "key '" + std::string(failed->key) + "': " + (v == c.end() ? "missing" : v->dump());
    }
  }
  if (variants.empty())
    throw std::invalid_argument("key 'quant_method': \"" + method + "\" is not read (" + methods.substr(0, methods.size() - 2) + ")");
  throw std::invalid_argument(found + " is not read for quant_method \"" + method + "\" (" + variants + ")");
}

[[noreturn]] void refuse_codes(const HfQuantFormat& f, const LlamaExport& m, const std::string& weight) {
  std::string how = "a post-training method's codes";
  if (const auto q = m.quantized.find(weight); q != m.quantized.end()) how = q->second.spec.describe();
  else if (m.group_index.count(weight)) how = "GPTQ act-order, dynamic groups";
  else if (m.spqr.count(weight)) how = "SpQR";
  else if (m.quip_sharp.count(weight)) how = "QuIP#";
  else if (const auto p = m.packed_base.find(weight); p != m.packed_base.end()) how = "the LoRA run's " + p->second->format() + " base";
  refuse_quant(f, weight + " (" + how + ") is not what it holds; " + std::string(f.name) + " holds " + std::string(f.holds));
}

std::string hf_quant_help() {
  std::string out;
  for (const HfQuantFormat& f : kFormats) out += (out.empty() ? "" : "; ") + std::string(f.name) + ": " + std::string(f.holds);
  return out;
}

QuantizedExport quantize_for_hf(const LlamaExport& model, const HfQuantFormat& format, const std::string& float_dtype) {
  for (const auto& [name, type] : model.ggml_types)
    if (name.ends_with("_proj.weight"))
      refuse_quant(format, name + " trained with a GGUF block type (ggml type " + std::to_string(type) +
                         "), which no Hugging Face layout holds: export it with --format gguf");
  QuantizedExport out = format.pack(model, format, float_dtype);
  for (const auto& [name, q] : model.quantized)
    if (!out.packed.count(name))
      out.notes.push_back(name + " (" + q.spec.describe() + ") is written as its dequantized values: " +
                          std::string(format.name) + " leaves embeddings and lm_head float");
  // The run's own notes that still apply: not those of weights now written as codes, nor the LoRA merge
  // when the folder is the QLoRA base (the only notes of a LoRA run).
  if (model.packed_base.empty()) {
    for (const std::string& note : model.notes) {
      std::string weight = note.substr(0, note.find(' '));
      if (out.inputs_stated && weight.ends_with(".input_quantizer")) weight = weight.substr(0, weight.rfind('.')) + ".weight";
      if (!out.packed.count(weight) && !model.quantized.count(weight)) out.notes.push_back(note);
    }
  }
  return out;
}

}  // namespace qforge::exporters::hf
