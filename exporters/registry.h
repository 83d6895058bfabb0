#pragma once
// The exporters `qforge export --format` chooses from: one line per format in registry.cpp, so the
// CLI's choices, help and errors read one table. A new exporter is one file plus one line there.
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "exporters/model_export.h"

namespace qforge::exporters {

struct ExportOptions {
  std::string type;     // model exporters: file type (GGUF: F32 ... Q4_K_M; empty = the run's preset, else F32)
  std::string imatrix;  // importance matrix file (.gguf or legacy .dat) for the codecs that take one
  std::string dtype;           // hf: f32 (default), f16, bf16
  std::string max_shard_size;  // hf: "5GB" (default), "500MB", bytes
  std::string quant;           // hf: a quantized layout (exporters/hf/hf_quant_export.h); "" = float weights
};

struct Exporter {
  std::string_view name;     // --format value
  std::string_view summary;  // one line for --help
  ExportInput input;         // what export_source must fill in
  bool takes_type;           // --type / --imatrix apply
  // Writes `out`; returns the line the CLI prints ("wrote ..."). Errors name the file or tensor.
  std::string (*write)(const ExportSource& source, const ExportOptions& options, const std::filesystem::path& out);
};

std::span<const Exporter> exporters();
// std::invalid_argument listing the registered names when `name` is not one.
const Exporter& find_exporter(const std::string& name);
// "gguf: ..., peft: ..." for help texts.
std::string exporter_help();

}  // namespace qforge::exporters
