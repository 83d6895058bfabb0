// Per-tensor error of a quantized GGUF against the F32 GGUF it was made from (bench/gguf_quantize.py).
// usage: gguf_tensor_error F32.gguf QUANT.gguf [IMATRIX.gguf]
// prints one line per re-encoded tensor: `NAME TYPE rmse weighted_rmse` where
// weighted_rmse = sqrt(sum_rc imp_c (x̂ - x)² / (rows · sum_c imp_c)) (-1 without an importance vector).
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/imatrix_file.h"
#include "fakequant/formats/ggml/block_types.h"

namespace gg = qforge::exporters::gguf;
namespace fq = qforge::fakequant::ggml;

namespace {

void report_tensor(const gg::GgufReader& ref, const gg::GgufReader& quant, size_t i, const std::vector<float>* imp) {
  const gg::TensorInfo& t = quant.file().tensors[i];
  const gg::TensorInfo* r = ref.file().find_tensor(t.name);
  if (r == nullptr || r->type != gg::kGgmlF32 || r->dims != t.dims) throw std::runtime_error("no F32 twin for " + t.name);
  const fq::BlockType& codec = fq::block_type(static_cast<int>(t.type));
  const int64_t k = static_cast<int64_t>(t.dims[0]);
  const int64_t rows = static_cast<int64_t>(ref.tensor_data(t.name).size() / sizeof(float)) / k;
  const float* x = reinterpret_cast<const float*>(ref.tensor_data(t.name).data());
  const std::byte* q = quant.tensor_data(i).data();
  const int64_t row_bytes = fq::row_bytes(codec, k);
  double sum_e2 = 0, sum_we2 = 0;
#pragma omp parallel reduction(+ : sum_e2, sum_we2)
  {
    std::vector<float> y(k);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      codec.dequantize_row(q + row * row_bytes, y.data(), k);
      for (int64_t c = 0; c < k; ++c) {
        const double e = static_cast<double>(y[c]) - x[row * k + c];
        sum_e2 += e * e;
        if (imp) sum_we2 += (*imp)[c] * e * e;
      }
    }
  }
  double sum_imp = 0;
  if (imp) for (float v : *imp) sum_imp += v;
  const double rmse = std::sqrt(sum_e2 / (rows * k));
  const double wrmse = imp ? std::sqrt(sum_we2 / (rows * sum_imp)) : -1.0;
  std::printf("%s %s %.9g %.9g\n", t.name.c_str(), codec.name, rmse, wrmse);
}

bool supported(uint32_t type) {
  try {
    fq::block_type(static_cast<int>(type));
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s F32.gguf QUANT.gguf [IMATRIX.gguf]\n", argv[0]);
    return 2;
  }
  try {
    const gg::GgufReader ref{std::filesystem::path(argv[1])};
    const gg::GgufReader quant{std::filesystem::path(argv[2])};
    std::map<std::string, std::vector<float>> importance;
    if (argc > 3) importance = gg::read_imatrix(argv[3]);
    for (size_t i = 0; i < quant.file().tensors.size(); ++i) {
      const gg::TensorInfo& t = quant.file().tensors[i];
      if (t.type == gg::kGgmlF32 || t.dims.size() < 2) continue;
      if (!supported(t.type)) {  // e.g. llama.cpp's Q5_K for IQ4_NL's first ffn_down: not compared
        const auto info = gg::find_ggml_type(t.type);
        std::printf("%s %s -1 -1\n", t.name.c_str(), info ? std::string(info->name).c_str() : "unknown");
        continue;
      }
      const auto it = importance.find(t.name);
      report_tensor(ref, quant, i, it == importance.end() ? nullptr : &it->second);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gguf_tensor_error: %s\n", e.what());
    return 1;
  }
  return 0;
}
