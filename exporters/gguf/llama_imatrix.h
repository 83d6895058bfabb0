#pragma once
// Importance-matrix collection on a qforge Llama, as llama-imatrix does it on a GGUF model
// (tools/imatrix/imatrix.cpp collect_imatrix; docs/gguf.md §8): for every matrix
// multiplication with a weight named "blk.*" (and "output.weight" on request, --process-output),
// Σx² and Σx of its input per input column and the number of input rows (tokens).
//
// How: an identity module that accumulates the statistics is installed as the input quantizer
// (layers/quantizable.h) of the projections whose input is distinct — q_proj (k_proj and v_proj read
// the same tensor), o_proj, gate_proj (up_proj reads the same tensor), down_proj, and lm_head when
// asked and untied (tied output is token_embd.weight, which llama-imatrix never records). Training
// code is untouched: nothing is installed unless a collector is built, and the collector is meant for
// a throwaway copy of the model (the observers stay installed; they are identity maps).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "exporters/gguf/imatrix_file.h"
#include "layers/llama.h"

namespace qforge::exporters::gguf {

struct LlamaImatrixOptions {
  bool process_output = false;  // also record lm_head ("output.weight"), like --process-output
};

class LlamaImatrixCollector {
 public:
  // Installs the observers. Throws std::logic_error naming the layer when it already has an input
  // quantizer (collect on the float model, as llama-imatrix runs on the F32/F16 GGUF).
  explicit LlamaImatrixCollector(layers::LlamaForCausalLM& model, LlamaImatrixOptions options = {});
  ~LlamaImatrixCollector();
  LlamaImatrixCollector(const LlamaImatrixCollector&) = delete;
  LlamaImatrixCollector& operator=(const LlamaImatrixCollector&) = delete;

  // Evaluates (no gradients, eval mode) consecutive non-overlapping chunks of `chunk_size` tokens of
  // `tokens`, each chunk a fresh sequence as in llama-imatrix (no BOS: qforge's GGUF sets
  // add_bos_token false), `batch_chunks` chunks per forward pass, at most `max_chunks` (0: all).
  // Returns the chunks evaluated. std::invalid_argument when not even one chunk fits or chunk_size
  // exceeds the model's max_position_embeddings.
  int64_t run(const std::vector<uint32_t>& tokens, int64_t chunk_size, int64_t max_chunks = 0, int64_t batch_chunks = 8);

  // The statistics so far, keyed by GGUF weight name (in_sum2, in_sum, counts = tokens seen), with
  // chunk_size and chunk_count from run() and the given dataset names.
  Imatrix imatrix(const std::vector<std::string>& datasets = {}) const;

 private:
  struct Observed;
  layers::LlamaForCausalLM& model_;
  std::vector<Observed> observed_;
  int64_t chunk_size_ = 0, chunk_count_ = 0;
};

}  // namespace qforge::exporters::gguf
