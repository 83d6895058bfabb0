#pragma once
// Calibration statistics of the inputs of a Llama's projections: per input column, Σx and Σx² (and the
// number of input rows, i.e. tokens) over calibration text. They are what importance matrices are made
// of (llama-imatrix: tools/imatrix/imatrix.cpp collect_imatrix; docs/gguf.md §8-§9), and the diagonal of
// the layer Hessians X^T X that GPTQ and AWQ work from. exporters/gguf/imatrix_file.h writes them as
// llama.cpp imatrix files (`qforge imatrix`).
//
// How: an identity module that accumulates the statistics is installed as the input quantizer
// (layers/quantizable.h) of the projections whose input is distinct — q_proj (k_proj and v_proj read
// the same tensor), o_proj, gate_proj (up_proj reads the same tensor), down_proj, and lm_head when
// asked and untied (a tied output is the embedding, which llama-imatrix never records). Training code
// is untouched: nothing is installed unless a collector is built, and the collector is meant for a
// throwaway copy of the model (the observers stay installed; they are identity maps).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/llama.h"

namespace qforge::ptq {

struct InputMoments {
  std::vector<double> sum;   // Σx per input column (double: millions of tokens)
  std::vector<double> sum2;  // Σx² per input column
  int64_t rows = 0;          // input rows (tokens) seen
};

struct InputStatisticsOptions {
  bool include_lm_head = false;  // also record lm_head (llama-imatrix --process-output)
};

class InputStatisticsCollector {
 public:
  // Installs the observers. Throws std::logic_error naming the layer when it already has an input
  // quantizer (collect on the float model, as llama-imatrix runs on the F32/F16 GGUF).
  explicit InputStatisticsCollector(layers::LlamaForCausalLM& model, InputStatisticsOptions options = {});
  ~InputStatisticsCollector();
  InputStatisticsCollector(const InputStatisticsCollector&) = delete;
  InputStatisticsCollector& operator=(const InputStatisticsCollector&) = delete;

  // Evaluates (no gradients, eval mode) consecutive non-overlapping chunks of `chunk_size` tokens of
  // `tokens`, each chunk a fresh sequence as in llama-imatrix (no BOS: qforge's GGUF sets
  // add_bos_token false), `batch_chunks` chunks per forward pass, at most `max_chunks` (0: all).
  // Returns the chunks evaluated. std::invalid_argument when not even one chunk fits, chunk_size
  // exceeds the model's max_position_embeddings or differs from an earlier run.
  int64_t run(const std::vector<uint32_t>& tokens, int64_t chunk_size, int64_t max_chunks = 0, int64_t batch_chunks = 8);

  // The statistics so far by Hugging Face weight name ("model.layers.0.self_attn.k_proj.weight"); the
  // weights that share an input share its moments.
  std::map<std::string, InputMoments> moments() const;
  int64_t chunk_size() const { return chunk_size_; }
  int64_t chunk_count() const { return chunk_count_; }

 private:
  struct Observed;
  layers::LlamaForCausalLM& model_;
  std::vector<Observed> observed_;
  int64_t chunk_size_ = 0, chunk_count_ = 0;
};

}  // namespace qforge::ptq
