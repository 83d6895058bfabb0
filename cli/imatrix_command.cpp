#include "cli/imatrix_command.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_imatrix.h"
#include "trainers/calibration_tokens.h"
#include "trainers/run.h"

namespace qforge::cli {

namespace gg = qforge::exporters::gguf;

void add_imatrix(CLI::App& app, ImatrixArguments& args) {
  CLI::App* c = app.add_subcommand("imatrix", "Importance matrix (llama-imatrix) of a language-model run");
  c->add_option("--checkpoint", args.checkpoint, "Run folder holding checkpoint.bin")->required()->check(CLI::ExistingDirectory);
  c->add_option("--data", args.data, "Calibration text file (default: the run's training split)")->check(CLI::ExistingFile);
  c->add_option("--chunks", args.chunks, "Chunks to evaluate; 0 = all")->capture_default_str();
  c->add_option("--chunk-size", args.chunk_size, "Tokens per chunk; 0 = the model's context")->capture_default_str();
  c->add_option("--batch-chunks", args.batch_chunks, "Chunks per forward pass")->capture_default_str();
  c->add_flag("--process-output", args.process_output, "Also record lm_head (output.weight), as llama-imatrix --process-output");
  c->add_option("-o,--out", args.output, "Output file: .gguf (GGUF imatrix) or .dat (legacy)")->required();
}

int run_imatrix(const ImatrixArguments& args) {
  (void)gg::imatrix_format_for_path(args.output);  // a bad extension fails before the forward passes
  const trainers::LanguageModelExport lm = trainers::restore_language_model(args.checkpoint);
  const trainers::CalibrationTokens calibration = trainers::calibration_tokens(args.checkpoint, args.data);
  const int64_t chunk_size = args.chunk_size > 0 ? args.chunk_size : lm.model->config().max_position_embeddings;
  gg::LlamaImatrixCollector collector(*lm.model, {.process_output = args.process_output});
  const int64_t chunks = collector.run(calibration.tokens, chunk_size, args.chunks, args.batch_chunks);
  const gg::Imatrix imatrix = collector.imatrix({calibration.dataset});
  gg::write_imatrix(args.output, imatrix);
  std::printf("wrote %s: %zu entries, %lld chunks of %lld tokens from %s\n", args.output.c_str(), imatrix.entries.size(),
              static_cast<long long>(chunks), static_cast<long long>(chunk_size), calibration.dataset.c_str());
  return 0;
}

std::map<std::string, std::vector<float>> load_export_importance(const std::string& path) {
  std::map<std::string, std::vector<float>> importance = gg::read_imatrix(path);
  for (const auto& [name, values] : importance) {
    for (size_t j = 0; j < values.size(); ++j) {
      if (!std::isfinite(values[j])) {
        throw std::invalid_argument("imatrix " + path + ": entry '" + name + "' column " + std::to_string(j) +
                                    " is not finite (" + std::to_string(values[j]) + ")");
      }
    }
  }
  return importance;
}

}  // namespace qforge::cli
