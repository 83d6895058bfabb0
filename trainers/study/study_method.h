#pragma once
// A study method string (StudyConfig.methods) read into what the study runs for it:
//   "ptq"                      round to nearest, once per PTQ observer
//   "qat", "qat:<estimator>"   QAT from the float run (the scheme's own estimator, or lsq, lsq_plus, ...)
//   "<ptq method>"             a ptq/ registry method string ("gptq:act_order", "awq", "spqr", ...)
//   "<ptq method>+qat[:<est>]" QAT initialised from that post-training cell: its weights and scales
//   "ptq:imatrix", "qat:imatrix" on "gguf:<file type>" schemes: the file type's llama-quantize algorithm
//                              (ptq) or format-exact QAT (qat), weighted by the float run's imatrix
//                              (trainers/study/gguf_cells.h); "ptq" and "qat" there are the unweighted ones
//   any of them + "@<scheme>"  run on that one weight scheme instead of every weight_schemes entry
// A method that fixes its own weight scheme (ptq::Method::weight_scheme, QuIP#: fp16) runs on it
// alone, "@" or not.
#include <cstdint>
#include <string>
#include <vector>

namespace qforge::trainers {

struct StudyMethod {
  std::string label;   // the report's column: the string without "@<scheme>"
  std::string ptq;     // "" (QAT from the float run), "ptq" (RTN per observer) or a registry method string
  std::string qat;     // "" (post-training only), "qat" or "qat:<estimator>"
  std::string scheme;  // "" (every weight scheme) or the one scheme the method runs on
  bool importance = false;  // ":imatrix": GGUF cells weighted by the float run's importance matrix
};

// std::invalid_argument naming the method string and what is wrong (unknown method or estimator,
// QAT from a method whose format no scheme describes, a scheme its method refuses).
StudyMethod parse_study_method(const std::string& text);

// The weight schemes `method` runs on, from the study's list.
std::vector<std::string> study_method_schemes(const StudyMethod& method, const std::vector<std::string>& weight_schemes);

// True for the methods whose outcome depends on a seed: QAT (the trainer's) and post-training methods
// that calibrate (the calibration windows'); round to nearest only when `input_quantized` (activation
// ranges are calibrated, weight scales are not).
bool study_method_seeded(const StudyMethod& method, bool input_quantized);

// `ptq_method` (a registry method string) with its own seed option (ptq::Method::seed_option: QuIP#'s
// sign vectors) set to `seed`, unless it has none or the string sets it: "quip_sharp" -> "quip_sharp:seed=2".
std::string with_seed_option(const std::string& ptq_method, uint64_t seed);

}  // namespace qforge::trainers
