#pragma once
// Post-training quantization methods: one file per method, one line per method in registry.cpp, so
// `qforge quantize --method`, its help and its errors read one table.
//
// The contract every method keeps: it receives the model with fake quantizers already installed by
// the run's rules (fakequant::prepare_qat: which layer gets which format is the rules' business, not
// the method's), in eval mode and holding the float weights, plus a way to run calibration batches.
// It leaves every quantizer calibrated and frozen (Quantizer::freeze) and may rewrite weights (GPTQ's
// error feedback, AWQ's scaling), so that the eval-mode forward is the quantized model and
// fakequant::convert() yields its codes.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "autograd/tensor.h"
#include "layers/module.h"

namespace qforge::ptq {

struct Calibration {
  // Runs calibration batch `batch` (0-based, < batches) through the model, without gradients; the
  // same data on every call with the same index.
  std::function<void(int64_t batch)> forward;
  int64_t batches = 16;
  // Language models only (may be empty): the input ids forward(batch) runs. With them a method can
  // embed the batches once and stream the decoder layers one at a time (gptq_method.h).
  std::function<autograd::IndexTensor(int64_t batch)> token_ids;
};

struct Method {
  std::string_view name;       // --method value
  std::string_view summary;    // one line for --help
  std::string_view reference;  // paper or spec the method follows
  // `options`: what followed "<name>:" in the method string (e.g. "damp=0.01,act_order"); each method
  // parses its own and throws std::invalid_argument naming the option it does not know.
  void (*quantize)(layers::Module& model, const Calibration& calibration, const std::string& options);
  // Null, or the input (activation) scheme the method is defined with, from its options: LLM.int8()'s
  // decomposition happens in every forward, so it lives in the run's rules (trainers fill it into
  // every quantizing rule, and `qforge eval` rebuilds it from the saved config).
  std::string (*input_scheme)(const std::string& options) = nullptr;
  // Empty, or the weight scheme the method is defined with and needs (QuIP#: "fp16", the dtype its
  // E8P codes decode to; the method itself refuses other schemes): what `qforge study` runs it with.
  std::string_view weight_scheme = {};
  // Null, or the bits per weight the method's format stores, counted on the quantized model after
  // `quantize` (SpQR: codes, 3-bit statistics and the outliers it chose; QuIP#: 2), over the layers it
  // quantized. Null: the weight scheme's own count (fakequant::QuantizerSpec::bits_per_element).
  double (*bits_per_weight)(layers::Module& model, const std::string& options) = nullptr;
  // Empty, or the option that seeds the method's own randomness (QuIP#'s sign vectors: "seed"), which
  // `qforge study` sets to a repeated cell's seed along with the calibration windows'.
  std::string_view seed_option = {};
};

std::span<const Method> methods();
// std::invalid_argument listing the registered names when `name` is not one.
const Method& find_method(const std::string& name);

// "gptq:damp=0.01" -> the method and "damp=0.01"; "rtn" -> rtn and "".
struct MethodChoice {
  const Method* method;
  std::string options;
};
MethodChoice parse_method(const std::string& text);
// "rtn: ...; ..." for help texts.
std::string method_help();

}  // namespace qforge::ptq
