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

#include "ptq/method.h"
#include "trainers/run.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

struct PtqOptions {
  std::filesystem::path float_run;   // run folder of a float (non-QAT) training
  // Or, when set, a Hugging Face model folder (exporters/hf) quantized on the data, trainer and context
  // (model.llama.max_position_embeddings) of `hf_run`, a run config; the quantized run records the folder
  // as model.llama.hf (its eval rebuilds the graph from config.json) and starts at step 0.
  std::filesystem::path hf_model;
  config::RunConfig hf_run;
  std::filesystem::path output_dir;  // where the quantized checkpoint goes
  // Rules (init_from is ignored) and ptq: the method (a ptq/ registry name, optionally ":options" as
  // ptq::parse_method reads it), its options (joined after the method string's, ptq::join_options) and
  // the calibration sample count. The saved run records the method's name, all its options and the count.
  config::QuantizationConfig quantization;
  int calibration_batches = 16;  // training batches the method calibrates on when ptq.calibration_samples is 0
  // The seed of the calibration windows (Task::calibration_loss draws them from trainer.seed); unset:
  // the float run's. Saved as the quantized run's trainer.seed (its weights are loaded, not drawn).
  std::optional<uint64_t> calibration_seed;
};

// Quantizes, calibrates, evaluates on the run's validation data and saves output_dir/checkpoint.bin.
// A method with an input scheme (ptq::Method::input_scheme, LLM.int8()) gets it on every rule that
// quantizes and has none; a rule asking for another one is an error. Errors name the run folder or the rule.
RunResult post_training_quantize(const PtqOptions& options);

// The method of `ptq` and its options in the method's order: "gptq:act_order" + options "damp=0.02" ->
// gptq, "damp=0.02,act_order".
ptq::MethodChoice method_choice(const config::PtqConfig& ptq);

// Rules for one scheme on every layer except `keep_float` globs: skip rules first, then "*" with
// `weight_scheme` (and `input_scheme` when not empty).
config::QuantizationConfig scheme_rules(const std::string& weight_scheme, const config::QuantizerConfig* input,
                                        const std::vector<std::string>& keep_float);

}  // namespace qforge::trainers
