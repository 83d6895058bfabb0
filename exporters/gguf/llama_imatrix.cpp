#include "exporters/gguf/llama_imatrix.h"

#include <stdexcept>

#include "exporters/gguf/llama_tensor_names.h"

namespace qforge::exporters::gguf {

Imatrix llama_imatrix(const std::map<std::string, ImatrixEntry>& by_hf_weight, const std::vector<std::string>& datasets,
                      uint32_t chunk_size, uint32_t chunk_count) {
  Imatrix out;
  out.datasets = datasets;
  out.chunk_size = chunk_size;
  out.chunk_count = chunk_count;
  for (const auto& [weight, entry] : by_hf_weight) {
    const auto name = gguf_tensor_name(weight);
    if (!name) throw std::invalid_argument("imatrix: weight '" + weight + "' has no GGUF tensor name");
    out.entries[*name] = entry;
  }
  return out;
}

}  // namespace qforge::exporters::gguf
