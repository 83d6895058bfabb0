// GPTQ as AutoGPTQ / GPTQModel / transformers / vLLM load it (docs/hf-quantized.md §2):
//   P.qweight I32 [in * bits / 32, out]   codes, one LSB-first bit stream per output column along `in`
//   P.qzeros  I32 [groups, out * bits / 32] zero points, one stream per group along `out`
//   P.scales  F16 [groups, out]
//   P.g_idx   I32 [in]                    always written; act-order makes it a permutation's groups
// checkpoint_format "gptq" (v1) stores z - 1 and the loaders add 1 back, so z = 0 has no encoding (its
// -1 would borrow from the neighbouring field); such weights are refused, naming the tensor, unless
// the caller picks "gptq_v2" (z as is, read by GPTQModel but not AutoGPTQ).
#include <numeric>
#include <stdexcept>

#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/config_keys.h"
#include "exporters/hf/quant/hf_quant_layouts.h"

namespace qforge::exporters::hf::quant {
namespace {

const HfQuantLayout& gptq() { return hf_quant_layout("gptq"); }

// Both packed axes hold whole int32 words (the shapes in * bits / 32 and out * bits / 32): a multiple
// of 8 values at 4 bits, 16 at 2, 4 at 8 and 32 at 3, where 32 values fill exactly three words.
void check_whole_words(const std::string& name, const char* axis, int64_t count, int bits) {
  if (count * bits % 32 != 0) {
    throw std::invalid_argument(name + ": gptq packs " + std::to_string(bits) + "-bit values along " + axis + " = " +
                                std::to_string(count) + " into int32 words; " + axis + " must be a multiple of " +
                                std::to_string(32 / std::gcd(32, bits)));
  }
}

// The zero points as stored: z - 1 for v1 (docs/hf-quantized.md §2), z for v2.
std::vector<int32_t> stored_zeros(const GroupedIntWeight& w, bool v2) {
  std::vector<int32_t> stored(w.zeros.size());
  for (size_t p = 0; p < w.zeros.size(); ++p) {
    if (!v2 && w.zeros[p] == 0) {
      throw std::invalid_argument(w.name + ": gptq checkpoint_format \"gptq\" stores zero point - 1, so zero point 0 "
                                  "(row " + std::to_string(p / w.groups()) + ", group " +
                                  std::to_string(p % w.groups()) + ") cannot be stored; write gptq_v2 instead");
    }
    stored[p] = v2 ? w.zeros[p] : w.zeros[p] - 1;
  }
  return stored;
}

}  // namespace

std::vector<FileTensor> pack_gptq(const GroupedIntWeight& w, const HfQuantOptions& options) {
  check_weight_for_layout(gptq(), w, options);
  check_whole_words(w.name, "in", w.in, w.bits);
  check_whole_words(w.name, "out", w.out, w.bits);
  const int64_t groups = w.groups(), weight_rows = w.in * w.bits / 32, zero_cols = w.out * w.bits / 32;
  std::vector<uint32_t> qweight(static_cast<size_t>(weight_rows * w.out));
  for (int64_t o = 0; o < w.out; ++o) pack_stream(&w.codes[o * w.in], 1, w.in, w.bits, &qweight[o], w.out);
  const std::vector<int32_t> zeros = stored_zeros(w, options.gptq_v2);
  std::vector<uint32_t> qzeros(static_cast<size_t>(groups * zero_cols));
  for (int64_t g = 0; g < groups; ++g) pack_stream(&zeros[g], groups, w.out, w.bits, &qzeros[g * zero_cols], 1);
  std::vector<float> scales(w.scales.size());
  for (int64_t o = 0; o < w.out; ++o) {
    for (int64_t g = 0; g < groups; ++g) scales[g * w.out + o] = w.scales[o * groups + g];
  }
  std::vector<int32_t> g_idx(static_cast<size_t>(w.in));
  for (int64_t i = 0; i < w.in; ++i) g_idx[i] = w.group_of(i);
  return {words_tensor(w.name + ".qweight", {weight_rows, w.out}, qweight),
          words_tensor(w.name + ".qzeros", {groups, zero_cols}, qzeros),
          scale_tensor(w.name + ".scales", {groups, w.out}, scales, ScaleDtype::kF16),
          int32_tensor(w.name + ".g_idx", {w.in}, g_idx)};
}

GroupedIntWeight unpack_gptq(const std::string& prefix, const FileTensors& tensors, const HfQuantOptions& options) {
  check_options(gptq(), options);
  GroupedIntWeight w;
  w.name = prefix;
  w.bits = options.bits;
  const FileTensor& g_idx = expect_tensor(tensors, prefix + ".g_idx", Dtype::kI32, {-1});
  const FileTensor& scales = expect_scales(tensors, prefix + ".scales", {-1, -1});
  w.in = g_idx.shape[0];
  w.out = scales.shape[1];
  w.group_size = group_size_for(options, w.in);
  if (w.in % w.group_size != 0) {
    throw std::invalid_argument(prefix + ".g_idx: in = " + std::to_string(w.in) + " is not a multiple of group size " +
                                std::to_string(w.group_size));
  }
  check_whole_words(prefix, "in", w.in, w.bits);
  check_whole_words(prefix, "out", w.out, w.bits);
  const int64_t groups = w.groups(), weight_rows = w.in * w.bits / 32, zero_cols = w.out * w.bits / 32;
  expect_scales(tensors, prefix + ".scales", {groups, w.out});
  const std::vector<uint32_t> qweight = words_of(expect_tensor(tensors, prefix + ".qweight", Dtype::kI32, {weight_rows, w.out}));
  const std::vector<uint32_t> qzeros = words_of(expect_tensor(tensors, prefix + ".qzeros", Dtype::kI32, {groups, zero_cols}));
  w.codes.resize(static_cast<size_t>(w.out * w.in));
  for (int64_t o = 0; o < w.out; ++o) unpack_stream(&qweight[o], w.out, w.in, w.bits, &w.codes[o * w.in], 1);
  w.zeros.resize(static_cast<size_t>(w.out * groups));
  for (int64_t g = 0; g < groups; ++g) unpack_stream(&qzeros[g * zero_cols], 1, w.out, w.bits, &w.zeros[g], groups);
  // v1: the loaders add 1 back; a stored 2^bits - 1 becomes 2^bits, off the grid, which validate() refuses
  // (kernels disagree on it: docs/hf-quantized.md §2).
  if (!options.gptq_v2) {
    for (int32_t& z : w.zeros) z += 1;
  }
  const std::vector<float> file_scales = scales_of(scales);
  w.scales.resize(file_scales.size());
  for (int64_t o = 0; o < w.out; ++o) {
    for (int64_t g = 0; g < groups; ++g) w.scales[o * groups + g] = file_scales[g * w.out + o];
  }
  w.g_idx = int32_of(g_idx);
  validate(w);
  return w;
}

std::string gptq_config(const HfQuantOptions& options) {
  check_options(gptq(), options);
  const nlohmann::json c = {{"quant_method", "gptq"},
                            {"bits", options.bits},
                            {"group_size", options.group_size},
                            {"desc_act", options.act_order},
                            {"sym", options.symmetric},
                            {"checkpoint_format", options.gptq_v2 ? "gptq_v2" : "gptq"}};
  return c.dump(2);
}

HfQuantOptions gptq_options(const std::string& config_json) {
  const nlohmann::json c = parse_config(config_json, "gptq");
  expect_config_string(c, "quant_method", "gptq", "gptq");
  HfQuantOptions o;
  o.bits = config_value<int>(c, "bits", "gptq", "w_bit");
  o.group_size = config_value<int64_t>(c, "group_size", "gptq", "q_group_size");
  o.act_order = config_value_or<bool>(c, "desc_act", "gptq", false);
  o.symmetric = config_value_or<bool>(c, "sym", "gptq", true);
  const std::string format = config_value_or<std::string>(c, "checkpoint_format", "gptq", "gptq");
  if (format != "gptq" && format != "gptq_v2") {
    throw std::invalid_argument("gptq quantization_config: key 'checkpoint_format' is \"" + format +
                                "\"; qforge reads \"gptq\" and \"gptq_v2\"");
  }
  o.gptq_v2 = format == "gptq_v2";
  o.ignore.clear();
  check_options(gptq(), o);
  return o;
}

}  // namespace qforge::exporters::hf::quant
