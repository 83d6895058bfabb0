#pragma once
// `qforge imatrix`: llama-imatrix for a qforge run — the importance matrix (mean x² of every
// projection's input per input channel) over calibration text, written as a GGUF imatrix (.gguf) or
// llama.cpp's legacy format (.dat), for `qforge export --imatrix` or llama-quantize --imatrix.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace qforge::cli {

struct ImatrixArguments {
  std::string checkpoint, data, output;
  int64_t chunks = 0;       // 0: every full chunk of the calibration tokens
  int64_t chunk_size = 0;   // 0: the model's context (max_position_embeddings)
  int64_t batch_chunks = 8;
  bool process_output = false;
};

void add_imatrix(CLI::App& app, ImatrixArguments& args);
int run_imatrix(const ImatrixArguments& args);

}  // namespace qforge::cli
