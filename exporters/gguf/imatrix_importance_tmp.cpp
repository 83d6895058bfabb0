#include "exporters/gguf/imatrix_importance_tmp.h"

#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"

namespace qforge::exporters::gguf {

std::map<std::string, std::vector<float>> read_imatrix_importance_tmp(const std::filesystem::path& path) {
  const GgufReader reader(path);
  std::map<std::string, std::vector<float>> importance;
  const auto& tensors = reader.file().tensors;
  const std::string suffix = ".in_sum2";
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string& name = tensors[i].name;
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string base = name.substr(0, name.size() - suffix.size());
    const TensorInfo* counts_info = reader.file().find_tensor(base + ".counts");
    if (tensors[i].type != kGgmlF32 || counts_info == nullptr || counts_info->type != kGgmlF32)
      throw std::runtime_error("imatrix: " + path.string() + ": '" + name + "' needs F32 in_sum2 and counts");
    const float* sums = reinterpret_cast<const float*>(reader.tensor_data(i).data());
    const float count = *reinterpret_cast<const float*>(reader.tensor_data(base + ".counts").data());
    std::vector<float>& e = importance[base];
    e.resize(tensors[i].dims[0]);
    for (size_t j = 0; j < e.size(); ++j) e[j] = count > 0 ? sums[j] / count : 1.0f;
  }
  return importance;
}

}  // namespace qforge::exporters::gguf
