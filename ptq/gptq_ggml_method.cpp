#include "ptq/gptq_ggml_method.h"

#include <algorithm>
#include <stdexcept>

#include "autograd/variable.h"
#include "layers/linear.h"
#include "ptq/gptq_ggml.h"
#include "ptq/method_options.h"
#include "ptq/sequential.h"

namespace qforge::ptq {
namespace {

struct Options {
  GgmlGptqOptions gptq;
  bool feedback = true;  // false: the Hessian's diagonal only
};

Options parse_options(const std::string& text) {
  Options options;
  parse_method_options(text, "export gptq", "damp=<fraction>, block=<columns>, no_importance, rtn",
                       [&](const std::string& key, const std::string& value) {
                         if (key == "damp" && !value.empty()) options.gptq.damp = option_double(value);
                         else if (key == "block" && !value.empty()) options.gptq.block_size = option_integer(value);
                         else if (key == "no_importance" && value.empty()) options.gptq.importance = false;
                         else if (key == "rtn" && value.empty()) options.feedback = false;
                         else return false;
                         return true;
                       });
  return options;
}

std::vector<LinearTarget> targets_of(layers::Module& model, const std::map<std::string, uint32_t>& types) {
  std::vector<LinearTarget> targets;
  for (auto& [name, module] : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    const auto type = types.find(name + ".weight");
    if (linear && type != types.end() && fakequant::ggml::block_rounding(static_cast<int>(type->second)))
      targets.push_back({name, linear, nullptr});
  }
  if (targets.empty()) throw std::invalid_argument("export gptq: no Linear weight has a type GPTQ can round to (q8_0, q4_K, q6_K, iq4_nl)");
  return targets;
}

}  // namespace

std::map<std::string, fakequant::ggml::EncodedRows> gptq_ggml_encode(layers::Module& model, const Calibration& calibration,
                                                                     const std::map<std::string, uint32_t>& types,
                                                                     const std::string& options_text) {
  const Options options = parse_options(options_text);
  std::map<std::string, fakequant::ggml::EncodedRows> encoded;
  quantize_true_sequential(model, calibration, targets_of(model, types), [&](const LinearTarget& t, const std::vector<double>& h) {
    const std::string name = t.name + ".weight";
    std::vector<double> hessian = h;
    const int64_t rows = t.linear->out_features(), cols = t.linear->in_features();
    if (!options.feedback)
      for (int64_t i = 0; i < cols; ++i)
        for (int64_t j = 0; j < cols; ++j) hessian[i * cols + j] = i == j ? hessian[i * cols + j] : 0.0;
    autograd::Variable weight = t.linear->weight();
    autograd::Tensor& data = weight.mutable_data();
    GgmlGptqLayer q = gptq_quantize_ggml(std::span<const float>(data.data(), static_cast<size_t>(rows * cols)), rows, cols,
                                         hessian, types.at(name), options.gptq);
    std::copy(q.weight.begin(), q.weight.end(), data.data());
    encoded[name] = std::move(q.encoded);
  });
  return encoded;
}

std::span<const GgmlMethod> ggml_methods() {
  static constexpr GgmlMethod kMethods[] = {
      {"gptq", "GPTQ into the file type's ggml types (Q4_K, Q6_K, Q8_0, IQ4_NL): llama.cpp's block search with the "
               "Hessian diagonal as importance, each column rounded to its block's grid, the error fed back; "
               "options damp=, block=, no_importance, rtn (no feedback: llama-quantize --imatrix's bytes)",
       "Frantar et al. 2022, GPTQ, Algorithm 1; docs/gguf.md §12", &gptq_ggml_encode},
  };
  return kMethods;
}

std::pair<const GgmlMethod*, std::string> parse_ggml_method(const std::string& text) {
  const size_t colon = text.find(':');
  const std::string name = text.substr(0, colon), options = colon == std::string::npos ? "" : text.substr(colon + 1);
  std::string names;
  for (const GgmlMethod& m : ggml_methods()) {
    if (m.name == name) return {&m, options};
    names += (names.empty() ? "" : ", ") + std::string(m.name);
  }
  throw std::invalid_argument("export: unknown method '" + name + "' (expected one of: " + names + ")");
}

std::string ggml_method_help() {
  std::string out;
  for (const GgmlMethod& m : ggml_methods()) out += (out.empty() ? "" : "; ") + std::string(m.name) + ": " + std::string(m.summary);
  return out;
}

}  // namespace qforge::ptq
