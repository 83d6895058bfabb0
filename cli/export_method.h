#pragma once
// `qforge export --method gptq[:options]`: a post-training method that encodes the weights into the
// file type's ggml types itself (ptq/gptq_ggml_method.h), run on the float model with calibration
// chunks of the run's training split, before the GGUF exporter writes the file (exporters may not
// depend on ptq/, so the command wires the two).
#include <cstdint>
#include <string>

#include "exporters/model_export.h"

namespace qforge::cli {

// Fills source.model->encoded (and replaces those weights by their decoded values). `file_type` as
// --type; `chunks` chunks of the model's context from the training split, as `qforge imatrix --chunks`.
// Returns a line for stderr. std::invalid_argument for adapter exports and runs trained in ggml types.
std::string encode_with_method(exporters::ExportSource& source, const std::string& checkpoint, const std::string& file_type,
                               const std::string& method, int64_t chunks);

}  // namespace qforge::cli
