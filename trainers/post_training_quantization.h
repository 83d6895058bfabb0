#pragma once
// Post-training quantization of a float run (`qforge quantize`): the run's quantizers installed by
// the rules, then a method of the ptq/ registry (round to nearest by default: the scales an observer
// picks for each weight, activation ranges calibrated on training batches), no training.
// The result is a run folder like any other: `qforge eval` and `generate` read it, and it carries the
// quantizers' frozen scales.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "trainers/run.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

struct PtqOptions {
  std::filesystem::path float_run;   // run folder of a float (non-QAT) training
  std::filesystem::path output_dir;  // where the quantized checkpoint goes
  config::QuantizationConfig quantization;  // rules; init_from is ignored
  int calibration_batches = 16;      // training batches the method calibrates on
  std::string method = "rtn";        // a ptq/ registry name, optionally ":options" (ptq::parse_method)
  // The seed of the calibration windows (Task::calibration_loss draws them from trainer.seed); unset:
  // the float run's. Saved as the quantized run's trainer.seed (its weights are loaded, not drawn).
  std::optional<uint64_t> calibration_seed;
};

// Quantizes, calibrates, evaluates on the run's validation data and saves output_dir/checkpoint.bin.
// A method with an input scheme (ptq::Method::input_scheme, LLM.int8()) gets it on every rule that
// quantizes and has none; a rule asking for another one is an error. Errors name the run folder or the rule.
RunResult post_training_quantize(const PtqOptions& options);

// Rules for one scheme on every layer except `keep_float` globs: skip rules first, then "*" with
// `weight_scheme` (and `input_scheme` when not empty).
config::QuantizationConfig scheme_rules(const std::string& weight_scheme, const config::QuantizerConfig* input,
                                        const std::vector<std::string>& keep_float);

}  // namespace qforge::trainers
