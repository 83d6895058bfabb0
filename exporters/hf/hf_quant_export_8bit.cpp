// The 8-bit rows of the --quant table (hf_quant_export.h): bnb-int8 (bitsandbytes LLM.int8(),
// docs/hf-quantized.md §6), fp8-e4m3 (compressed-tensors float-quantized, §7) and w8a8-int8
// (compressed-tensors int-quantized, §8: the integer table's packer plus its input rule), from the run's
// int8 / E4M3 codes and the input quantizers the configs state.
#include <optional>
#include <stdexcept>

#include "exporters/hf/hf_quant_export.h"
#include "exporters/hf/quant/adapter.h"
#include "exporters/hf/quant/adapter_ptq.h"

namespace qforge::exporters::hf {
namespace {

namespace hq = quant;
using fakequant::QuantizedTensor;

// The decoder Linears whose codes are QuantizedTensors (lm_head stays float), and the modules left float.
struct Selected {
  std::vector<std::pair<std::string, const QuantizedTensor*>> weights;
  std::vector<std::string> float_modules;
};

Selected select_quantized(const LlamaExport& m, const HfQuantFormat& f) {
  Selected s;
  for (const ExpectedTensor& t : linear_weights(m.model->config())) {
    const bool head = t.name == "lm_head.weight";
    if (const auto q = m.quantized.find(t.name); !head && q != m.quantized.end()) {
      s.weights.emplace_back(t.name, &q->second);
      continue;
    }
    if (!head && (m.group_index.count(t.name) || m.spqr.count(t.name) || m.packed_base.count(t.name)))
      refuse_codes(f, m, t.name);
    s.float_modules.push_back(hq::module_prefix(t.name));
  }
  if (s.weights.empty())
    refuse_quant(f, "no Linear weight of the run has codes it holds; " + std::string(f.name) + " holds " + std::string(f.holds));
  return s;
}

// `f`'s error for a weight `adapt` refuses, naming its scheme.
template <typename Adapt>
auto adapted(const HfQuantFormat& f, const std::string& name, const QuantizedTensor& q, Adapt&& adapt) {
  try {
    return adapt();
  } catch (const std::invalid_argument& e) {
    refuse_quant(f, std::string(e.what()) + " (" + name + " is " + q.spec.describe() + "; " + std::string(f.name) +
                        " holds " + std::string(f.holds) + ")");
  }
}

std::string input_text(const std::string& weight, const InputQuantizerExport& in) {
  return hq::module_prefix(weight) + ".input_quantizer (" + in.spec.describe() + ")";
}

// bitsandbytes' llm_int8_threshold: the run's LLM.int8() outlier threshold (input scheme int8:token:outlier<t>),
// one for the model; without one, transformers' default 6 and a note.
double int8_threshold(const LlamaExport& m, const HfQuantFormat& f, const Selected& s, QuantizedExport& out) {
  std::optional<double> threshold;
  std::string first;
  for (const auto& [name, q] : s.weights) {
    const InputQuantizerExport* in = input_quantizer(m, name);
    if (!in || !in->spec.dynamic_per_token || in->spec.outlier_threshold <= 0.0f) {
      out.notes.push_back(name + ": " + (in ? input_text(name, *in) + " is not LLM.int8()'s" : std::string("no input quantizer")) +
                          "; bitsandbytes quantizes its inputs per token with the config's llm_int8_threshold");
      continue;
    }
    if (threshold && *threshold != in->spec.outlier_threshold)
      refuse_quant(f, input_text(name, *in) + " and " + first + " differ; llm_int8_threshold is one for the model");
    threshold = in->spec.outlier_threshold;
    first = input_text(name, *in);
  }
  return threshold.value_or(6.0);
}

}  // namespace

const InputQuantizerExport* input_quantizer(const LlamaExport& m, const std::string& weight) {
  const auto it = m.inputs.find(weight);
  return it == m.inputs.end() ? nullptr : &it->second;
}

QuantizedExport quantize_bnb_int8(const LlamaExport& m, const HfQuantFormat& f, const std::string&) {
  const Selected s = select_quantized(m, f);
  QuantizedExport out;
  hq::BnbInt8Options options;
  options.threshold = int8_threshold(m, f, s, out);
  options.skip_modules = s.float_modules;
  for (const auto& [name, q] : s.weights) {
    const hq::BnbInt8Weight w = adapted(f, name, *q, [&, &name = name, &q = q] { return hq::bnb_int8_weight(name, *q); });
    out.packed[name] = hq::pack_bnb_int8(w);
  }
  out.config_json = hq::bnb_int8_config(options);
  out.inputs_stated = true;
  out.source = std::to_string(s.weights.size()) + " Linears " + s.weights.front().second->spec.describe();
  out.notes.push_back("SCB = float32(scale * 127) and bitsandbytes computes CB * SCB / 127: the loaded weights differ "
                      "from the run's by float32 rounding (docs/hf-quantized.md §6)");
  return out;
}

namespace {

// compressed-tensors' input_activations for FP8 from the run's input quantizers: none, E4M3 per token
// (dynamic) or per tensor (static, input_scale stored); one kind for the model.
hq::Fp8Activations fp8_activations(const LlamaExport& m, const HfQuantFormat& f, const Selected& s,
                                   std::map<std::string, float>& input_scales) {
  std::optional<hq::Fp8Activations> kind;
  std::string first;
  for (const auto& [name, q] : s.weights) {
    const InputQuantizerExport* in = input_quantizer(m, name);
    hq::Fp8Activations k = hq::Fp8Activations::kNone;
    if (in) {
      const fakequant::GranularitySpec g = in->spec.granularity;
      const bool fp8 = in->spec.format == fakequant::ElementFormat::kFp8E4M3 && !in->spec.block_scales.enabled();
      if (fp8 && in->spec.dynamic_per_token && in->spec.outlier_threshold <= 0.0f) {
        k = hq::Fp8Activations::kDynamicToken;
      } else if (fp8 && !in->spec.dynamic_per_token && g.kind == fakequant::Granularity::kPerTensor && in->scales.size() == 1) {
        k = hq::Fp8Activations::kStaticTensor;
        input_scales[name] = in->scales[0];
      } else {
        refuse_quant(f, input_text(name, *in) + ": compressed-tensors FP8 inputs are fp8_e4m3 per token (dynamic) or "
                                                "per tensor (static)");
      }
    }
    if (kind && *kind != k)
      refuse_quant(f, (in ? input_text(name, *in) : name + " (no input quantizer)") + " and " + first +
                          " differ; input_activations is one for the model");
    kind = k;
    first = in ? input_text(name, *in) : name + " (no input quantizer)";
  }
  return *kind;
}

hq::ScaleDtype scale_dtype_of(const fakequant::QuantizerSpec& spec) {
  if (spec.scale_dtype == fakequant::ScaleDtype::kFp16) return hq::ScaleDtype::kF16;
  if (spec.scale_dtype == fakequant::ScaleDtype::kBf16) return hq::ScaleDtype::kBF16;
  return hq::ScaleDtype::kF32;
}

}  // namespace

QuantizedExport quantize_fp8_e4m3(const LlamaExport& m, const HfQuantFormat& f, const std::string&) {
  const Selected s = select_quantized(m, f);
  const QuantizedTensor& first = *s.weights.front().second;
  hq::Fp8Options options;
  const bool tensor = fakequant::effective_granularity(first.shape, first.spec).kind == fakequant::Granularity::kPerTensor;
  options.strategy = tensor ? hq::Fp8Strategy::kTensor : hq::Fp8Strategy::kChannel;
  options.scale_dtype = scale_dtype_of(first.spec);  // the run's own scales: stored as they are
  options.ignore = s.float_modules;
  std::map<std::string, float> input_scales;
  options.activations = fp8_activations(m, f, s, input_scales);
  QuantizedExport out;
  for (const auto& [name, q] : s.weights) {
    if (q->spec.describe() != first.spec.describe())
      refuse_quant(f, name + " (" + q->spec.describe() + ") and " + s.weights.front().first + " (" +
                          first.spec.describe() + ") differ; one quantization_config holds one scheme");
    const auto in = input_scales.find(name);
    const std::optional<float> input_scale = in == input_scales.end() ? std::nullopt : std::optional<float>(in->second);
    const hq::Fp8Weight w = adapted(f, name, *q, [&, &name = name, &q = q] { return hq::fp8_weight(name, *q, options, input_scale); });
    out.packed[name] = hq::pack_fp8(w, options);
  }
  out.config_json = hq::fp8_config(options);
  out.inputs_stated = true;
  if (options.activations != hq::Fp8Activations::kNone)
    out.notes.push_back("the input quantizers are the config's input_activations; qforge --hf reads the folder with "
                        "float inputs (docs/hf.md §11)");
  out.source = std::to_string(s.weights.size()) + " Linears " + first.spec.describe();
  return out;
}

QuantizedExport quantize_w8a8_int8(const LlamaExport& m, const HfQuantFormat& f, const std::string& float_dtype) {
  QuantizedExport out = quantize_integers(m, f, float_dtype);
  out.inputs_stated = true;
  for (const auto& [name, packed] : out.packed) {
    const InputQuantizerExport* in = input_quantizer(m, name);
    if (!in) {
      out.notes.push_back(name + ": no input quantizer (a weight-only run); the config's inputs are int8 per token, "
                                 "dynamic, as vLLM runs W8A8");
      continue;
    }
    const fakequant::QuantizerSpec& spec = in->spec;
    if (spec.format != fakequant::ElementFormat::kInt || spec.bits != 8 || !spec.dynamic_per_token || !spec.symmetric)
      refuse_quant(f, input_text(name, *in) + ": w8a8-int8's inputs are int8 symmetric per token, dynamic (int8:token)");
    if (spec.outlier_threshold > 0.0f)
      out.notes.push_back(input_text(name, *in) + ": its FP16 outlier columns are not part of W8A8 (bnb-int8 keeps them)");
  }
  return out;
}

}  // namespace qforge::exporters::hf
