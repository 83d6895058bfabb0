#pragma once
// The "gguf" entry of the exporter registry: a run's LlamaExport (exporters/model_export.h) as a
// llama.cpp GGUF. Weights a QAT run trained with a GGUF block type keep that type (format-exact: the
// file dequantizes to the trained forward's weights bit for bit); the file type's mix gives the others.
#include <filesystem>
#include <string>

#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/registry.h"

namespace qforge::exporters::gguf {

// Export options for `run`: file type `file_type` (empty: the run's preset, F32 when it has none) for
// the tensors that did not train with a GGUF block type, and tensor_types (by GGUF name) forcing every
// one that did to its trained type. Errors name the parameter without a GGUF name.
LlamaExportOptions llama_export_options(const LlamaExport& run, const std::string& file_type, const std::string& name);

// Registry entry: writes source.model to `out` (options.type, options.imatrix), returns the "wrote ..." line.
std::string export_llama_gguf(const ExportSource& source, const ExportOptions& options, const std::filesystem::path& out);

}  // namespace qforge::exporters::gguf
