#pragma once
// `qforge quantize-gguf IN.gguf OUT.gguf TYPE [--imatrix FILE] [--threads N]`: llama-quantize's job
// (float llama GGUF -> Q8_0 / Q4_K_M / IQ4_NL / F16 / BF16) with qforge's codecs.
#include <CLI/CLI.hpp>
#include <string>

namespace qforge::cli {

struct QuantizeGgufArguments {
  std::string input, output, type, imatrix;
  int threads = 0;
};

CLI::App* add_quantize_gguf(CLI::App& app, QuantizeGgufArguments& args);
int run_quantize_gguf(const QuantizeGgufArguments& args);

}  // namespace qforge::cli
