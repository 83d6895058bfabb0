#pragma once
// TEMPORARY stand-in until the gguf-imatrix branch's reader is merged: GGUF imatrix files
// (llama-imatrix's default format, gguf.md §8) -> importance per GGUF tensor name.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qforge::exporters::gguf {

// "<tensor>.in_sum2" (ne0 x n_mat) and "<tensor>.counts" (n_mat): importance = in_sum2 / count, as
// llama-quantize's load_imatrix divides (a count of 0 gives 1).
std::map<std::string, std::vector<float>> read_imatrix_importance_tmp(const std::filesystem::path& path);

}  // namespace qforge::exporters::gguf
