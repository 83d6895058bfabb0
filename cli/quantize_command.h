#pragma once
// `qforge quantize --checkpoint RUN --scheme S [--method M[:options]] [--act-order --damp 0.02 ...]`:
// post-training quantization of a float run, or of a Hugging Face model folder (--hf DIR --config RUN.pbtxt) (trainers/post_training_quantization.h). The method, its
// options and the calibration sample count may also come from a run config's quantization section
// (--config, --set quantization.ptq.method=gptq); flags and the method string add to it.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/method_flags.h"

namespace qforge::cli {

struct QuantizeArguments {
  std::string checkpoint, hf, config_path, scheme, input_scheme, output_dir, method;
  std::vector<std::string> overrides, keep_float;
  int64_t group_size = 0;
  int calibration_batches = 0, calibration_samples = 0;
  MethodFlags method_flags;
};

void add_quantize(CLI::App& app, QuantizeArguments& args);
int run_quantize(const QuantizeArguments& args);

}  // namespace qforge::cli
