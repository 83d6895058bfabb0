// The post-training quantization methods (method.h): one line each.
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

std::span<const Method> methods() {
  static constexpr Method kMethods[] = {
      {"rtn", "round to nearest with the scales each quantizer's observer picks; activation ranges from calibration batches",
       "Nagel et al. 2021, A White Paper on Neural Network Quantization, §3", &quantize_rtn},
      {"gptq", "GPTQ: each Linear's columns rounded in turn, the error fed back through the inverse input Hessian, "
               "true-sequential; options damp=, block=, act_order, rtn (no feedback: its baseline)",
       "Frantar et al. 2022, GPTQ, Algorithm 1", &quantize_gptq},
      {"awq", "AWQ: activation-aware channel scales per block of layers sharing an input, folded exactly, then "
              "weight clipping and round to nearest; option no_clip",
       "Lin et al. 2023, AWQ, §3.2-3.3", &quantize_awq},
      {"smoothquant", "SmoothQuant: input channels scaled by max|X|^alpha / max|W|^(1-alpha), folded into the norms "
                      "before q/k/v and gate/up, then round to nearest (W8A8 with int8:channel + int8:token); option alpha=",
       "Xiao et al. 2022, SmoothQuant, §4 eq. 4", &quantize_smoothquant},
      {"llm_int8", "LLM.int8(): int8:channel weights, per-token int8 inputs whose columns with any |x| >= threshold "
                   "stay FP16 in every forward (input scheme int8:token:outlier<t>, set by the method); option threshold= (6)",
       "Dettmers et al. 2022, LLM.int8(), §3.2-3.3", &quantize_llm_int8, &llm_int8_input_scheme},
      {"spqr", "SpQR: GPTQ with act-order groups of 16 whose scales and zeros are 3-bit codes, and fp16 outliers chosen by the inverse-Hessian error; options outliers=, threshold=, beta1=, beta2=, qq_bits=, damp=, block=, no_act_order",
       "Dettmers et al. 2023, SpQR, §3.3 Algorithm 1", &quantize_spqr, nullptr, "", &spqr_model_bits_per_weight},
      {"quip_sharp", "QuIP#: randomized Hadamard incoherence on both sides, BlockLDLQ onto the 2-bit E8P lattice codebook "
                     "(2 bits per weight), true-sequential; needs --scheme fp16 (the decoded weight); options damp=, seed=, scale=, tune=, rtn",
       "Tseng et al. 2024, QuIP#, §3-4", &quantize_quip_sharp, nullptr, "fp16", &quip_sharp_bits_per_weight, "seed"},
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
  for (const Method& m : methods()) out += (out.empty() ? "" : "; ") + std::string(m.name) + ": " + std::string(m.summary);
  return out;
}

}  // namespace qforge::ptq
