#include "cli/imatrix_command.h"

#include <cstdio>
#include <stdexcept>

#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_imatrix.h"
#include "ptq/input_statistics.h"
#include "trainers/calibration_tokens.h"
#include "trainers/run_folder.h"

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
  const exporters::LlamaExport lm = trainers::restore_language_model(args.checkpoint);
  const trainers::CalibrationTokens calibration = trainers::calibration_tokens(args.checkpoint, args.data);
  const int64_t chunk_size = args.chunk_size > 0 ? args.chunk_size : lm.model->config().max_position_embeddings;
  ptq::InputStatisticsCollector collector(*lm.model, {.include_lm_head = args.process_output});
  const int64_t chunks = collector.run(calibration.tokens, chunk_size, args.chunks, args.batch_chunks);
  // llama-imatrix's entry of a dense weight: Σx², one count (tokens), Σx; stored as F32.
  std::map<std::string, gg::ImatrixEntry> entries;
  for (const auto& [weight, m] : collector.moments()) {
    entries[weight] = {{m.sum2.begin(), m.sum2.end()}, {static_cast<float>(m.rows)}, {m.sum.begin(), m.sum.end()}};
  }
  const gg::Imatrix imatrix = gg::llama_imatrix(entries, {calibration.dataset}, static_cast<uint32_t>(collector.chunk_size()),
                                                static_cast<uint32_t>(collector.chunk_count()));
  gg::write_imatrix(args.output, imatrix);
  std::printf("wrote %s: %zu entries, %lld chunks of %lld tokens from %s\n", args.output.c_str(), imatrix.entries.size(),
              static_cast<long long>(chunks), static_cast<long long>(chunk_size), calibration.dataset.c_str());
  return 0;
}

}  // namespace qforge::cli
