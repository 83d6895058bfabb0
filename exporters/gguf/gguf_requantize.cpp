// Float GGUF -> quantized GGUF, the counterpart of llama.cpp's llama-quantize (src/llama-quant.cpp,
// llama_model_quantize_impl): tensors are visited in file order, each quantizable one re-encoded row
// by row with the ggml codecs (OpenMP over rows), everything else copied byte for byte.
#include "exporters/gguf/gguf_requantize.h"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <span>
#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::exporters::gguf {
namespace {

namespace fq = fakequant::ggml;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// llama-quant.cpp quantizes only >= 2-D "*weight" tensors that are not norms; the rest keep their type.
bool quantizable(const TensorInfo& t) {
  return t.dims.size() >= 2 && ends_with(t.name, "weight") && !ends_with(t.name, "_norm.weight");
}

void check_float_input(const TensorInfo& t, const std::string& source) {
  if (t.type != kGgmlF32 && t.type != kGgmlF16 && t.type != kGgmlBF16)
    throw std::invalid_argument("quantize-gguf: " + source + ": tensor '" + t.name + "' has ggml type " +
                                std::to_string(t.type) + "; only F32, F16 and BF16 inputs are requantized");
}

const float* importance_for(const RequantizeOptions& options, const TensorInfo& t) {
  if (options.importance == nullptr) return nullptr;
  const auto it = options.importance->find(t.name);
  if (it == options.importance->end()) return nullptr;
  if (it->second.size() != t.dims[0])
    throw std::invalid_argument("quantize-gguf: importance for '" + t.name + "' has " +
                                std::to_string(it->second.size()) + " values, its rows have " + std::to_string(t.dims[0]));
  return it->second.data();
}

// Rows of `in` (F32/F16/BF16) -> rows of `out_type`. F32 rows are read in place from the mapping;
// F16/BF16 rows are widened into one buffer per thread (no allocation per row).
// The output is left uninitialised (every byte is written by a row encoder): no 100 MB memset.
std::unique_ptr<std::byte[]> encode_tensor(const TensorInfo& t, std::span<const std::byte> in, uint32_t out_type,
                                           const float* importance, size_t& out_size) {
  const int64_t k = static_cast<int64_t>(t.dims[0]);
  const int64_t n_rows = static_cast<int64_t>(*ggml_tensor_bytes(kGgmlF32, t.dims) / sizeof(float)) / k;
  const fq::BlockType& codec = fq::block_type(static_cast<int>(out_type));
  const fq::BlockType& source = fq::block_type(static_cast<int>(t.type));
  const int64_t in_row = fq::row_bytes(source, k), out_row = fq::row_bytes(codec, k);
  out_size = static_cast<size_t>(n_rows * out_row);
  auto out = std::make_unique_for_overwrite<std::byte[]>(out_size);
#pragma omp parallel
  {
    std::vector<float> widened(t.type == kGgmlF32 ? 0 : static_cast<size_t>(k));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < n_rows; ++r) {
      const std::byte* src = in.data() + r * in_row;
      const float* x = reinterpret_cast<const float*>(src);
      if (t.type != kGgmlF32) {
        source.dequantize_row(src, widened.data(), k);
        x = widened.data();
      }
      codec.quantize_row(x, out.get() + r * out_row, k, importance);
    }
  }
  return out;
}

}  // namespace

std::vector<uint32_t> requantized_types(const GgufFile& file, LlamaFileType type) {
  const bool tied = file.find_tensor("output.weight") == nullptr;
  int64_t n_v = 0, n_down = 0;
  for (const TensorInfo& t : file.tensors) {
    n_v += ends_with(t.name, ".attn_v.weight");
    n_down += ends_with(t.name, ".ffn_down.weight");
  }
  std::vector<uint32_t> types;
  int64_t i_v = 0, i_down = 0;
  for (const TensorInfo& t : file.tensors) {
    if (!quantizable(t)) {
      types.push_back(t.type);
      continue;
    }
    int64_t index = 0, count = 0;
    if (ends_with(t.name, ".attn_v.weight")) index = i_v++, count = n_v;
    if (ends_with(t.name, ".ffn_down.weight")) index = i_down++, count = n_down;
    types.push_back(llama_tensor_type(type, t.name, t.dims[0], static_cast<int>(t.dims.size()), index, count, tied));
  }
  return types;
}

RequantizeReport requantize_llama_gguf(const std::filesystem::path& in, const std::filesystem::path& out,
                                       const RequantizeOptions& options) {
  const GgufReader reader(in);
  const std::string source = in.string();
  GgufFile file = reader.file();
  const std::vector<uint32_t> types = requantized_types(file, options.type);
  if (options.threads > 0) omp_set_num_threads(options.threads);
  RequantizeReport report;
  report.input_bytes = std::filesystem::file_size(in);
  std::vector<std::unique_ptr<std::byte[]>> encoded(file.tensors.size());
  std::vector<std::span<const std::byte>> spans;
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    TensorInfo& t = file.tensors[i];
    const std::span<const std::byte> data = reader.tensor_data(i);
    if (!quantizable(t) || types[i] == t.type) {
      spans.push_back(data);  // copied unchanged, straight from the mapping
      t.type = types[i];
      continue;
    }
    check_float_input(t, source);
    const float* importance = importance_for(options, t);
    size_t size = 0;
    encoded[i] = encode_tensor(t, data, types[i], importance, size);
    spans.emplace_back(encoded[i].get(), size);
    t.type = types[i];
    ++report.quantized_tensors;
    report.weighted_tensors += importance != nullptr;
  }
  file.set("general.file_type", llama_ftype_id(options.type));
  file.set("general.quantization_version", uint32_t{2});
  write_gguf_file(out, file, spans);
  report.output_bytes = std::filesystem::file_size(out);
  return report;
}

}  // namespace qforge::exporters::gguf
