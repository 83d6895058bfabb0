#include "cli/quantize_gguf_command.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <vector>

#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/gguf_requantize.h"

namespace qforge::cli {

CLI::App* add_quantize_gguf(CLI::App& app, QuantizeGgufArguments& args) {
  CLI::App* q = app.add_subcommand("quantize-gguf", "Quantize a float (F32/F16/BF16) llama GGUF like llama-quantize");
  q->add_option("input", args.input, "Float GGUF file")->required()->check(CLI::ExistingFile);
  q->add_option("output", args.output, "Quantized GGUF file (written atomically)")->required();
  q->add_option("type", args.type, "File type: " + exporters::gguf::llama_file_type_list())->required();
  q->add_option("--imatrix", args.imatrix, "Importance matrix (llama.cpp imatrix: GGUF or legacy .dat, by content)")
      ->check(CLI::ExistingFile);
  q->add_option("--threads", args.threads, "Threads for the row loop (default: OMP_NUM_THREADS)");
  return q;
}

int run_quantize_gguf(const QuantizeGgufArguments& args) {
  namespace gg = exporters::gguf;
  gg::RequantizeOptions options;
  options.type = gg::parse_llama_file_type(args.type);
  options.threads = args.threads;
  std::map<std::string, std::vector<float>> importance;
  if (!args.imatrix.empty()) {
    importance = gg::read_export_importance(args.imatrix);
    options.importance = &importance;
    options.imatrix_file = args.imatrix;  // as given, like llama-quantize's quantize.imatrix.file
    options.imatrix_provenance = gg::read_imatrix_provenance(args.imatrix);
  }
  const auto start = std::chrono::steady_clock::now();
  const gg::RequantizeReport report = gg::requantize_llama_gguf(args.input, args.output, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s (%s): %d tensors quantized (%d with importance), %.1f MB -> %.1f MB in %.3f s (%.0f MB/s of input)\n",
              args.output.c_str(), gg::llama_file_type_name(options.type).c_str(), report.quantized_tensors,
              report.weighted_tensors, report.input_bytes / 1e6, report.output_bytes / 1e6, seconds,
              report.input_bytes / 1e6 / seconds);
  return 0;
}

}  // namespace qforge::cli
