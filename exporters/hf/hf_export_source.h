#pragma once
// A Hugging Face model folder as the model an export writes (`qforge export --hf DIR`, docs/hf.md §13):
// re-exporting a hub checkpoint in another dtype, shard size or quantized layout, or re-packing a
// quantized folder. The same reader as every --hf command (hf_model_reader.h) fills the model with the
// folder's (dequantized) weights; a quantized folder whose codes a QLoRA base keeps (GPTQ, AWQ,
// compressed-tensors pack-quantized, bitsandbytes NF4 / FP4) also hands them on as `packed_base`, so
// `--quant` of the same layout writes the same codes instead of re-rounding dequantized values.
#include <filesystem>

#include "exporters/model_export.h"

namespace qforge::exporters::hf {

/// std::runtime_error / std::invalid_argument naming the file and field, as read_hf_model.
LlamaExport hf_export_source(const std::filesystem::path& dir);

}  // namespace qforge::exporters::hf
