// AWQ, GEMM version, as AutoAWQ / transformers / vLLM load it (docs/hf-quantized.md §3):
//   P.qweight I32 [in, out / 8]      codes packed along `out`, 8 per word in kAwqOrder
//   P.qzeros  I32 [groups, out / 8]  zero points, same packing, no offset (unlike GPTQ v1)
//   P.scales  F16 [groups, out]
// 4-bit only; no g_idx, so only contiguous groups; zero points are always stored (zero_point true).
#include <cctype>
#include <stdexcept>

#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/config_keys.h"
#include "exporters/hf/quant/hf_quant_layouts.h"

namespace qforge::exporters::hf::quant {
namespace {

const HfQuantLayout& awq() { return hf_quant_layout("awq"); }

void check_out(const std::string& name, int64_t out) {
  if (out % 8 != 0) {
    throw std::invalid_argument(name + ": awq packs 8 output columns per int32 word; out = " + std::to_string(out) +
                                " is not a multiple of 8");
  }
}

// Rows of `values` ([rows, out], row-major) packed along out: word (r, c) holds values (r, 8c .. 8c+7).
std::vector<uint32_t> pack_rows(const std::vector<int32_t>& values, int64_t rows, int64_t out) {
  std::vector<uint32_t> words(static_cast<size_t>(rows * out / 8));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < out / 8; ++c) words[r * (out / 8) + c] = pack_awq_word(&values[r * out + 8 * c]);
  }
  return words;
}

std::vector<int32_t> unpack_rows(const std::vector<uint32_t>& words, int64_t rows, int64_t out) {
  std::vector<int32_t> values(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < out / 8; ++c) unpack_awq_word(words[r * (out / 8) + c], &values[r * out + 8 * c]);
  }
  return values;
}

// [a, b] row-major -> [b, a] row-major.
template <typename T>
std::vector<T> transposed(const std::vector<T>& v, int64_t a, int64_t b) {
  std::vector<T> t(v.size());
  for (int64_t i = 0; i < a; ++i) {
    for (int64_t j = 0; j < b; ++j) t[j * a + i] = v[i * b + j];
  }
  return t;
}

}  // namespace

std::vector<FileTensor> pack_awq(const GroupedIntWeight& w, const HfQuantOptions& options) {
  check_weight_for_layout(awq(), w, options);
  check_out(w.name, w.out);
  // The file's matrices are [in, out] and [groups, out]; qforge's are [out, in] and [out, groups].
  const std::vector<uint32_t> qweight = pack_rows(transposed(w.codes, w.out, w.in), w.in, w.out);
  const std::vector<uint32_t> qzeros = pack_rows(transposed(w.zeros, w.out, w.groups()), w.groups(), w.out);
  return {words_tensor(w.name + ".qweight", {w.in, w.out / 8}, qweight),
          words_tensor(w.name + ".qzeros", {w.groups(), w.out / 8}, qzeros),
          scale_tensor(w.name + ".scales", {w.groups(), w.out}, transposed(w.scales, w.out, w.groups()),
                       ScaleDtype::kF16)};
}

GroupedIntWeight unpack_awq(const std::string& prefix, const FileTensors& tensors, const HfQuantOptions& options) {
  check_options(awq(), options);
  const FileTensor& qweight = expect_tensor(tensors, prefix + ".qweight", Dtype::kI32, {-1, -1});
  GroupedIntWeight w;
  w.name = prefix;
  w.bits = 4;
  w.in = qweight.shape[0];
  w.out = qweight.shape[1] * 8;
  w.group_size = group_size_for(options, w.in);
  if (w.in % w.group_size != 0) {
    throw std::invalid_argument(prefix + ".qweight: in = " + std::to_string(w.in) + " is not a multiple of group size " +
                                std::to_string(w.group_size));
  }
  const int64_t groups = w.groups();
  const FileTensor& qzeros = expect_tensor(tensors, prefix + ".qzeros", Dtype::kI32, {groups, w.out / 8});
  const FileTensor& scales = expect_scales(tensors, prefix + ".scales", {groups, w.out});
  w.codes = transposed(unpack_rows(words_of(qweight), w.in, w.out), w.in, w.out);
  w.zeros = transposed(unpack_rows(words_of(qzeros), groups, w.out), groups, w.out);
  w.scales = transposed(scales_of(scales), groups, w.out);
  w.g_idx.resize(static_cast<size_t>(w.in));
  for (int64_t i = 0; i < w.in; ++i) w.g_idx[i] = static_cast<int32_t>(i / w.group_size);
  validate(w);
  return w;
}

std::string awq_config(const HfQuantOptions& options) {
  check_options(awq(), options);
  nlohmann::json c = {{"quant_method", "awq"},
                      {"bits", 4},
                      {"group_size", options.group_size},
                      {"zero_point", true},
                      {"version", "gemm"}};
  c["modules_to_not_convert"] = options.ignore.empty() ? nlohmann::json(nullptr) : nlohmann::json(options.ignore);
  return c.dump(2);
}

HfQuantOptions awq_options(const std::string& config_json) {
  const nlohmann::json c = parse_config(config_json, "awq");
  expect_config_string(c, "quant_method", "awq", "awq");
  HfQuantOptions o;
  o.bits = config_value<int>(c, "bits", "awq", "w_bit");
  o.group_size = config_value<int64_t>(c, "group_size", "awq", "q_group_size");
  std::string version = config_value_or<std::string>(c, "version", "awq", "gemm");
  for (char& ch : version) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (version != "gemm") {
    throw std::invalid_argument("awq quantization_config: key 'version' is \"" + version + "\"; qforge reads \"gemm\"");
  }
  if (!config_value_or<bool>(c, "zero_point", "awq", true)) {
    throw std::invalid_argument("awq quantization_config: key 'zero_point' is false; GEMM stores zero points");
  }
  // Zero points are stored either way, so the config does not say whether they are all 2^(bits-1).
  o.symmetric = false;
  o.ignore = config_value_or<std::vector<std::string>>(c, "modules_to_not_convert", "awq", {});
  check_options(awq(), o);
  return o;
}

}  // namespace qforge::exporters::hf::quant
