#pragma once
// Reading back the quantized Linears of a Hugging Face folder (docs/hf.md §11): config.json's
// quantization_config names a row of the --quant table (hf_quant_export.h) by quant_method and, where one
// method has several rows, by the keys the table names (compressed-tensors "format": pack-quantized,
// float-quantized, int-quantized; bitsandbytes load_in_4bit with bnb_4bit_quant_type nf4 or fp4, and
// load_in_8bit), or a row's own config key (quip-sharp's quip_params); a module P is packed when the folder
// holds "P.<marker>" (P.qweight, P.weight_packed, P.weight.absmax, P.SCB, P.weight_scale, P.dense_weights,
// P.Qidxs), and then every "P.*" tensor but P.bias is its packed form, unpacked by exporters/hf/quant's unpackers and
// dequantized by the layout's published formula (docs/hf-quantized.md §1-§9) to the FP32 weight. The
// activation quantization a config states (input_activations, llm_int8_threshold) is not applied: the
// model reads its inputs in float.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "autograd/packed_weight.h"
#include "exporters/hf/hf_quant_export.h"
#include "exporters/hf/quant/bitsandbytes_layout.h"
#include "exporters/hf/quant/fp8_layout.h"
#include "exporters/hf/quant/spqr_layout.h"
#include "exporters/hf/quant/hf_quant.h"
#include "layers/llama_config.h"

namespace qforge::exporters::hf {

class HfQuantReader {
 public:
  /// Parses a quantization config object (JSON text) found under config.json key `object`.
  /// std::invalid_argument naming the key when its quant_method (and format key) is not one of the table's
  /// or its layout cannot read it. `model` gives the row counts of a fused module's parts (quip-sharp's
  /// qkv_proj / upgate_proj); without it fused weights are not read.
  explicit HfQuantReader(const std::string& config_json, std::string_view object = kQuantizationConfig,
                         const layers::LlamaConfig* model = nullptr);
  const HfQuantFormat& format() const { return *format_; }
  /// The names of `names` that hold the packed form of `weight` ("P.weight"): every "P.*" but P.bias
  /// when "P.<marker>" is among them, else none. For quip-sharp, P is the fused module of a part
  /// (q_proj -> qkv_proj, up_proj -> upgate_proj, fakequant::quip_sharp_fused_modules).
  std::vector<std::string> packed_names(const std::string& weight, const std::set<std::string>& names) const;
  /// The FP32 weight [out, in] (row-major) that `tensors` (the packed_names of `weight`) hold; of a fused
  /// module, the part's rows of its dequantized weight.
  /// std::invalid_argument naming the tensor when one is missing or disagrees with the config.
  std::vector<float> dequantize(const std::string& weight, const quant::FileTensors& tensors, int64_t& out,
                                int64_t& in) const;
  /// The same weight in its codes: a fakequant::PackedGroupIndexWeight (integer layouts) or a
  /// fakequant::Packed4BitWeight (bitsandbytes NF4 / FP4), whose dequantize_rows gives dequantize()'s
  /// values. std::invalid_argument for the rows whose codes a QLoRA base does not keep (bnb-int8, fp8-e4m3,
  /// spqr).
  autograd::PackedWeightPtr packed(const std::string& weight, const quant::FileTensors& tensors) const;

 private:
  const HfQuantFormat* format_;
  quant::HfQuantOptions options_;  // integer layouts
  quant::BnbOptions bnb_;          // bitsandbytes NF4 / FP4
  quant::Fp8Options fp8_;          // compressed-tensors float-quantized
  quant::SpqrConfig spqr_;         // SpQR
  std::optional<layers::LlamaConfig> model_;  // fused parts' sizes

  // The fused module of `weight` (its prefix, the part's first row and the parts' rows), if any.
  struct FusedPart {
    std::string prefix;
    int64_t begin = 0, rows = 0;
    std::vector<int64_t> sizes;
  };
  std::optional<FusedPart> fused_part(const std::string& weight) const;
  std::vector<float> dequantize_quip_sharp(const std::string& weight, const quant::FileTensors& tensors, int64_t& out,
                                           int64_t& in) const;
};

}  // namespace qforge::exporters::hf
