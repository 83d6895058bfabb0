// The post-training quantization methods (method.h): one line each.
#include <algorithm>
#include <stdexcept>

#include "ptq/awq_method.h"
#include "ptq/gptq_method.h"
#include "ptq/llm_int8.h"
#include "ptq/method.h"
#include "ptq/quip_sharp_method.h"
#include "ptq/rtn.h"
#include "ptq/smoothquant.h"
#include "ptq/spqr_method.h"

namespace qforge::ptq {

namespace {

// Each method's options (method.h MethodOption); the fallbacks are its option struct's defaults.
constexpr MethodOption kGptqOptions[] = {
    {"damp", true, "0.01", "fraction of mean diag(H) added to the Hessian's diagonal"},
    {"block", true, "128", "columns per lazy batch"},
    {"act_order", false, "", "columns in descending diag(H), groups kept contiguous (static groups)"},
    {"dynamic_groups", false, "", "act-order with groups of consecutive columns in that order (g_idx; implies act_order)"},
    {"rtn", false, "", "no error feedback: round to nearest on the method's grid (its baseline)"},
};
constexpr MethodOption kAwqOptions[] = {
    {"no_clip", false, "", "skip the weight-clipping search (AWQ §3.3 auto_clip)"},
};
constexpr MethodOption kSmoothQuantOptions[] = {
    {"alpha", true, "0.5", "migration strength in [0, 1]"},
};
constexpr MethodOption kLlmInt8Options[] = {
    {"threshold", true, "6", "|x| from which an input column stays FP16 (> 0)"},
};
constexpr MethodOption kSpqrOptions[] = {
    {"outlier_fraction", true, "0.01", "target fraction of weights kept as fp16 outliers"},
    {"threshold", true, "", "tau: outliers by the inverse-Hessian error threshold instead of a fraction"},
    {"beta1", true, "16", "columns per group"},
    {"beta2", true, "16", "rows per second-order (scale / zero) group"},
    {"qq_bits", true, "3", "bits of a scale / zero code"},
    {"damp", true, "0.01", "fraction of mean diag(H) added to the Hessian's diagonal"},
    {"block", true, "128", "columns per lazy batch"},
    {"act_order", false, "", "columns in descending diag(H) (the default)"},
    {"no_act_order", false, "", "columns in their own order"},
};
constexpr MethodOption kQuipSharpOptions[] = {
    {"damp", true, "0.01", "fraction of mean diag(H) added to the Hessian's diagonal"},
    {"seed", true, "0", "seed of the random Hadamard signs"},
    {"scale", true, "1.03", "codebook scale: Wscale = RMS(W') / scale"},
    {"tune", true, "0", "block coordinate descent passes after BlockLDLQ"},
    {"rtn", false, "", "no error feedback: round to nearest on the method's grid (its baseline)"},
    {"fused", false, "", "quip-sharp's fused modules: q/k/v and up/gate each one QuIP# matrix stacked on the outputs"},
    {"layer_finetune", true, "0", "epochs of the paper's §5 per-layer fine-tune (SU/SV, norms, unquantized Linears); 0: off"},
    {"layer_lr", true, "5e-5", "Adam lr of the per-layer fine-tune"},
    {"layer_susv_lr", true, "5e-4", "Adam lr of SU/SV in the per-layer fine-tune"},
    {"finetune", true, "0", "epochs of the end-to-end fine-tune (SU/SV, norms, float lm_head) against the float model; 0: off"},
    {"ft_lr", true, "1e-5", "Adam lr of the end-to-end fine-tune"},
    {"ft_susv_lr", true, "1e-4", "Adam lr of SU/SV in the end-to-end fine-tune"},
};

}  // namespace

std::span<const Method> methods() {
  static constexpr Method kMethods[] = {
      {"rtn", "round to nearest with the scales each quantizer's observer picks; activation ranges from calibration batches",
       "Nagel et al. 2021, A White Paper on Neural Network Quantization, §3", {}, &quantize_rtn},
      {"gptq", "GPTQ: each Linear's columns rounded in turn, the error fed back through the inverse input Hessian, "
               "true-sequential",
       "Frantar et al. 2022, GPTQ, Algorithm 1", kGptqOptions, &quantize_gptq},
      {"awq", "AWQ: activation-aware channel scales per block of layers sharing an input, folded exactly, then "
              "weight clipping and round to nearest",
       "Lin et al. 2023, AWQ, §3.2-3.3", kAwqOptions, &quantize_awq},
      {"smoothquant", "SmoothQuant: input channels scaled by max|X|^alpha / max|W|^(1-alpha), folded into the norms "
                      "before q/k/v and gate/up, then round to nearest (W8A8 with int8:channel + int8:token)",
       "Xiao et al. 2022, SmoothQuant, §4 eq. 4", kSmoothQuantOptions, &quantize_smoothquant},
      {"llm_int8", "LLM.int8(): int8:channel weights, per-token int8 inputs whose columns with any |x| >= threshold "
                   "stay FP16 in every forward (input scheme int8:token:outlier<t>, set by the method)",
       "Dettmers et al. 2022, LLM.int8(), §3.2-3.3", kLlmInt8Options, &quantize_llm_int8, &llm_int8_input_scheme},
      {"spqr", "SpQR: GPTQ with act-order groups of 16 whose scales and zeros are 3-bit codes, and fp16 outliers chosen by the inverse-Hessian error",
       "Dettmers et al. 2023, SpQR, §3.3 Algorithm 1", kSpqrOptions, &quantize_spqr, nullptr, "", &spqr_model_bits_per_weight},
      {"quip_sharp", "QuIP#: randomized Hadamard incoherence on both sides, BlockLDLQ onto the 2-bit E8P lattice codebook "
                     "(2 bits per weight), true-sequential; needs --scheme fp16 (the decoded weight)",
       "Tseng et al. 2024, QuIP#, §3-4", kQuipSharpOptions, &quantize_quip_sharp, nullptr, "fp16", &quip_sharp_bits_per_weight, "seed"},
  };
  return kMethods;
}

const Method& find_method(const std::string& name) {
  std::string names;
  for (const Method& m : methods()) {
    if (m.name == name) return m;
    names += (names.empty() ? "" : ", ") + std::string(m.name);
  }
  throw std::invalid_argument("ptq: unknown method '" + name + "' (expected one of: " + names + ")");
}

MethodChoice parse_method(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return {&find_method(text), ""};
  return {&find_method(text.substr(0, colon)), text.substr(colon + 1)};
}

std::string method_help() {
  std::string out;
  for (const Method& m : methods()) {
    out += (out.empty() ? "" : "; ") + std::string(m.name) + ": " + std::string(m.summary);
    if (!m.options.empty()) out += "; options " + accepted_options(m.name);
  }
  return out;
}

std::string accepted_options(std::string_view method) {
  std::string out;
  for (const MethodOption& o : find_method(std::string(method)).options)
    out += (out.empty() ? "" : ", ") + std::string(o.name) + (o.takes_value ? "=<number>" : "");
  return out.empty() ? "no options" : out;
}

const MethodOption* find_option(const Method& method, std::string_view name) {
  for (const MethodOption& o : method.options)
    if (o.name == name) return &o;
  return nullptr;
}

std::vector<OptionUse> option_union() {
  std::vector<OptionUse> uses;
  for (const Method& m : methods()) {
    for (const MethodOption& o : m.options) {
      auto use = std::find_if(uses.begin(), uses.end(), [&](const OptionUse& u) { return u.name == o.name; });
      if (use == uses.end()) use = uses.insert(uses.end(), OptionUse{o.name, o.takes_value, {}});
      if (use->takes_value != o.takes_value)
        throw std::logic_error("ptq registry: option " + std::string(o.name) + " is a flag in one method and takes a value in another");
      use->takers.emplace_back(&m, &o);
    }
  }
  return uses;
}

namespace {

// "a,b=1" -> {"a", "b=1"}: the items only; their values are the method's parser's business.
std::vector<std::string> items_of(const std::string& text) {
  std::vector<std::string> items;
  for (size_t start = 0; start < text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    items.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

std::string key_of(const std::string& item) { return item.substr(0, item.find('=')); }

}  // namespace

std::string join_options(const std::vector<std::string>& parts) {
  std::string out;
  std::vector<std::string> keys;
  for (const std::string& part : parts) {
    if (part.empty()) continue;
    // Refused rather than "later wins": which of two places a damp= came from is not the user's guess.
    for (const std::string& item : items_of(part)) {
      if (std::find(keys.begin(), keys.end(), key_of(item)) != keys.end())
        throw std::invalid_argument("ptq: option " + key_of(item) + " given twice (in '" + out + "' and '" + part + "')");
      keys.push_back(key_of(item));
    }
    out += (out.empty() ? "" : ",") + part;
  }
  return out;
}

std::string ordered_options(const Method& method, const std::string& text) {
  std::vector<std::string> items = items_of(text);
  auto rank = [&method](const std::string& item) {
    for (size_t i = 0; i < method.options.size(); ++i)
      if (method.options[i].name == key_of(item)) return i;
    return method.options.size();  // not the method's: its parser refuses it
  };
  std::stable_sort(items.begin(), items.end(), [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  return join_options(items);
}

}  // namespace qforge::ptq
