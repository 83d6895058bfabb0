#pragma once
// Validation loss of a GGUF file's (or a Hugging Face folder's) weights on a language-model run's data: how much an export (PTQ
// or QAT, any file type) costs, measured on the same batches `qforge eval` uses.
#include <filesystem>

#include "trainers/run.h"

namespace qforge::trainers {

// The run's float model architecture (its quantization config is dropped: the file's weights are
// already quantized) loaded with the dequantized weights of `gguf` (read_llama_gguf; its extra
// control/byte token rows beyond the run's vocabulary are dropped), evaluated like evaluate(). Errors
// name the file and the tensor when the file does not fit the run. train_loss is NaN: a file has no
// training window.
RunResult evaluate_gguf(const std::filesystem::path& checkpoint_dir, const std::filesystem::path& gguf);
// The same with a Hugging Face model folder's weights (exporters/hf/hf_model_reader.h); every tensor
// of the folder must be a parameter of the run's model (biases are an error naming the tensor).
RunResult evaluate_hf(const std::filesystem::path& checkpoint_dir, const std::filesystem::path& hf_dir);

}  // namespace qforge::trainers
