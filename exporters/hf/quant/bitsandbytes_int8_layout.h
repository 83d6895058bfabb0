#pragma once
// bitsandbytes LLM.int8() Linear weights as transformers saves a Linear8bitLt with int8 weights and
// reloads it (docs/hf-quantized.md §6; the method: docs/llm-int8.md §2): per output row an absmax SCB
// and int8 codes CB = round(W * 127 / SCB) in -127..127; the outlier threshold is an inference-time
// rule on the input and is only written to the config.
#include <string>
#include <vector>

#include "exporters/hf/quant/hf_quant.h"

namespace qforge::exporters::hf::quant {

struct BnbInt8Weight {
  std::string name;  // module prefix P; tensors are "P.weight", "P.SCB", "P.weight_format"
  int64_t out = 0, in = 0;
  std::vector<int8_t> codes;      // CB [out * in] row-major, -127..127
  std::vector<float> row_absmax;  // SCB [out]: finite, >= 0; a row with SCB 0 has only zero codes
};

// What the model's quantization_config says once.
struct BnbInt8Options {
  double threshold = 6.0;  // llm_int8_threshold: the run's outlier threshold (ptq/llm_int8.h)
  std::vector<std::string> skip_modules = {"lm_head"};  // llm_int8_skip_modules
};

// Throws std::invalid_argument "<name>: ..." on sizes that disagree, a code of -128, an SCB that is
// negative, not finite, or 0 in a row with nonzero codes.
void validate(const BnbInt8Weight& w);

// P.weight I8 [out, in], P.SCB F32 [out], P.weight_format U8 [] = 0 (row-major).
std::vector<FileTensor> pack_bnb_int8(const BnbInt8Weight& w);
// The weight `prefix` back. P.weight_format may be absent (bitsandbytes reads that as row-major); any
// value but 0 is a legacy tiled layout and refused. std::invalid_argument naming the tensor.
BnbInt8Weight unpack_bnb_int8(const std::string& prefix, const FileTensors& tensors);

// W[out * in] as bitsandbytes' int8_vectorwise_dequant computes it in float32:
// (CB * SCB) * 7.874015718698502e-3 (its 1/127), two float32 roundings.
std::vector<float> dequantize_bnb_int8(const BnbInt8Weight& w);

// The codes and row absmax of a float weight [out, in] as bitsandbytes' int8_vectorwise_quant makes them
// without outliers: SCB = max |W[o, :]|, CB = round_half_even(W * (127 / SCB)) in float32.
BnbInt8Weight quantize_bnb_int8(const std::string& name, const std::vector<float>& weight, int64_t out, int64_t in);

// transformers' BitsAndBytesConfig with load_in_8bit, and its reader (which refuses a 4-bit config).
std::string bnb_int8_config(const BnbInt8Options& options);
BnbInt8Options bnb_int8_options(const std::string& config_json);

}  // namespace qforge::exporters::hf::quant
