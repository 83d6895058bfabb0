#include "trainers/study/study_method.h"

#include <stdexcept>

#include "fakequant/quantizer_spec.h"
#include "ptq/method.h"

namespace qforge::trainers {
namespace {

bool is_qat(const std::string& text) { return text == "qat" || text.rfind("qat:", 0) == 0; }

void check_qat(const std::string& qat, const std::string& text) {
  if (qat == "qat") return;
  try {
    (void)fakequant::estimator_from_name(qat.substr(4));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("study.methods: '" + text + "': " + e.what());
  }
}

const ptq::Method& check_ptq(const std::string& ptq, const std::string& text) {
  try {
    return *ptq::parse_method(ptq).method;
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("study.methods: '" + text + "' is not ptq, qat or a post-training method (" + e.what() + ")");
  }
}

}  // namespace

StudyMethod parse_study_method(const std::string& text) {
  StudyMethod m;
  const size_t at = text.find('@');
  m.label = text.substr(0, at);
  if (at != std::string::npos) m.scheme = text.substr(at + 1);
  if (m.label == "ptq:imatrix" || m.label == "qat:imatrix") {  // GGUF cells only (checked with the schemes)
    m.importance = true;
    (m.label[0] == 'p' ? m.ptq : m.qat) = m.label.substr(0, 3);
    return m;
  }
  const size_t plus = m.label.find('+');
  if (plus != std::string::npos) {
    m.ptq = m.label.substr(0, plus);
    m.qat = m.label.substr(plus + 1);
    if (!is_qat(m.qat) || m.ptq == "ptq" || is_qat(m.ptq)) {
      throw std::invalid_argument("study.methods: '" + text + "': a QAT start is written <post-training method>+qat[:<estimator>], "
                                  "e.g. gptq:act_order+qat:lsq (rtn+qat for round to nearest)");
    }
  } else if (is_qat(m.label)) {
    m.qat = m.label;
  } else {
    m.ptq = m.label;
  }
  if (!m.qat.empty()) check_qat(m.qat, text);
  if (m.ptq.empty() || m.ptq == "ptq") return m;
  const ptq::Method& method = check_ptq(m.ptq, text);
  if (!m.qat.empty() && method.bits_per_weight) {
    // Its weights are not on a grid of the QAT rules (SpQR's outliers, QuIP#'s rotated lattice).
    throw std::invalid_argument("study.methods: '" + text + "': QAT cannot start from " + std::string(method.name) +
                                ", whose format no weight scheme describes");
  }
  if (!method.weight_scheme.empty()) {
    if (!m.scheme.empty() && m.scheme != method.weight_scheme) {
      throw std::invalid_argument("study.methods: '" + text + "': " + std::string(method.name) + " runs on weight scheme " +
                                  std::string(method.weight_scheme) + " only");
    }
    m.scheme = method.weight_scheme;
  }
  return m;
}

std::vector<std::string> study_method_schemes(const StudyMethod& method, const std::vector<std::string>& weight_schemes) {
  if (!method.scheme.empty()) return {method.scheme};
  return weight_schemes;
}

bool study_method_seeded(const StudyMethod& method, bool input_quantized) {
  if (!method.qat.empty()) return true;
  return (method.ptq != "ptq" && method.ptq != "rtn" && method.ptq.rfind("rtn:", 0) != 0) || input_quantized;
}

std::string with_seed_option(const std::string& ptq_method, uint64_t seed) {
  const ptq::MethodChoice choice = ptq::parse_method(ptq_method);
  const std::string key(choice.method->seed_option);
  if (key.empty() || ("," + choice.options).find("," + key + "=") != std::string::npos) return ptq_method;
  return ptq_method + (choice.options.empty() ? ":" : ",") + key + "=" + std::to_string(seed);
}

}  // namespace qforge::trainers
