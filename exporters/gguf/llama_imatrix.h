#pragma once
// A llama.cpp importance matrix (imatrix_file.h) from statistics collected on a qforge Llama by
// Hugging Face weight name (ptq/input_statistics.h collects them; `qforge imatrix` joins the two):
// the names become GGUF tensor names (docs/gguf.md §3), the statistics are kept as they are.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "exporters/gguf/imatrix_file.h"

namespace qforge::exporters::gguf {

// std::invalid_argument naming the weight when it has no GGUF name.
Imatrix llama_imatrix(const std::map<std::string, ImatrixEntry>& by_hf_weight, const std::vector<std::string>& datasets,
                      uint32_t chunk_size, uint32_t chunk_count);

}  // namespace qforge::exporters::gguf
