#pragma once
// Requantize a float llama GGUF (F32, F16 or BF16 weights) to one of the exporter's file types, as
// llama.cpp's llama-quantize does, byte for byte: same type mix (llama_mix, docs/gguf.md §7), tensors in
// llama_model_loader's order, general.file_type updated, the imatrix recorded, imatrix-requiring types
// refused without one. Rows are quantized as they are stored: the file is already
// in llama.cpp's layout, so the rope rows of Q/K are NOT permuted again (docs/gguf.md §5).
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_value.h"
#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_type_mix.h"

namespace qforge::exporters::gguf {

struct RequantizeOptions {
  LlamaFileType type = LlamaFileType::kQ8_0;
  // Importance (imatrix mean x² per input channel, ne0 values) by GGUF tensor name; not owned, may be null.
  const std::map<std::string, std::vector<float>>* importance = nullptr;
  // llama-quantize's record of the imatrix (path as given, dataset, chunks), written as quantize.imatrix.*
  // when `importance` is set; entries_count is importance->size().
  std::string imatrix_file;
  ImatrixProvenance imatrix_provenance;
  int threads = 0;  // threads encoding each tensor's rows; 0 = omp_get_max_threads() (OMP_NUM_THREADS)
};

struct RequantizeReport {
  uint64_t input_bytes = 0;   // size of the input file
  uint64_t output_bytes = 0;  // size of the output file
  int quantized_tensors = 0;  // tensors re-encoded (the others are copied unchanged)
  int weighted_tensors = 0;   // of those, how many had an importance vector
};

// Which tensors change type: >= 2-D "*weight" tensors that are not norms (llama_mix); the returned type
// ids line up with file.tensors. The counters of attn_v and ffn_down follow file order; n_layer and the
// heads come from <arch>.block_count / attention.head_count(_kv); `tied` = the file has no output.weight;
// `has_imatrix`: an importance matrix is given (it changes the Q4_0, Q5_0 and IQ4_NL mixes).
std::vector<uint32_t> requantized_types(const GgufFile& file, LlamaFileType type, bool has_imatrix = false);

// llama_model_loader's weights_map order (weight_name_comparer): tensors outside blocks first, then
// block by block, by name within each; llama-quantize writes its output in this order. Indices into
// file.tensors.
std::vector<size_t> llama_loader_order(const GgufFile& file);

// Reads `in` (mmap), writes `out` with io::write_file_atomically. Errors name the file and tensor.
RequantizeReport requantize_llama_gguf(const std::filesystem::path& in, const std::filesystem::path& out,
                                       const RequantizeOptions& options);

}  // namespace qforge::exporters::gguf
