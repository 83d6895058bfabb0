// The bnb-nf4 and bnb-fp4 rows of the --quant table (hf_quant_export.h): bitsandbytes Linear4bit weights
// (docs/hf-quantized.md §5) from whichever 4-bit codes of the row's type the run has, or from a float run
// quantized here as bitsandbytes' quantize_4bit does (fakequant/formats/blockwise_4bit.h).
#include <optional>
#include <stdexcept>

#include "exporters/hf/hf_quant_export.h"
#include "exporters/hf/quant/adapter.h"
#include "exporters/hf/quant/bitsandbytes_layout.h"
#include "fakequant/packed/packed_4bit.h"

namespace qforge::exporters::hf {
namespace {

namespace hq = quant;
using fakequant::Blockwise4Bit;
using fakequant::FourBitType;

bool bnb_block_size(int64_t b) {
  for (int64_t ok = 32; ok <= 4096; ok *= 2)
    if (b == ok) return true;
  return false;
}

// An nf4 scheme's codes as bitsandbytes blocks: a group of `g` columns of a row is a block of the
// flattened weight when g divides in (value = NF4[code] · absmax either way, docs/hf-quantized.md §5).
// The per-group scales go in as F32 absmax without double quantization, so nothing is rounded.
// No scheme holds bitsandbytes' fp4 values: fp4_e2m1 is OCP E2M1 (docs/numeric.md §2) times a group scale.
Blockwise4Bit blocks_of_scheme(const HfQuantFormat& f, const std::string& name, const fakequant::QuantizedTensor& q) {
  const std::string scheme = q.spec.describe();
  if (f.layout == "fp4" && q.spec.format == fakequant::ElementFormat::kFp4E2M1)
    refuse_quant(f, name + " (" + scheme + ") holds OCP E2M1 codes times a group scale, not bitsandbytes' fp4: "
                        "E2M1's subnormal (1/12 of the group's largest value) has no bitsandbytes code (its smallest "
                        "is 1/192) and E2M1 · scale is not table · absmax bit for bit; bnb-fp4 holds " + std::string(f.holds));
  if (f.layout != "nf4" || q.spec.format != fakequant::ElementFormat::kNf4 || q.shape.ndim() != 2)
    refuse_quant(f, name + " (" + scheme + ") has no " + (f.layout == "nf4" ? "NF4" : "bitsandbytes FP4") + " codes; " +
                        std::string(f.name) + " holds " + std::string(f.holds));
  const int64_t out = q.shape[0], in = q.shape[1];
  const fakequant::GranularitySpec g = fakequant::effective_granularity(q.shape, q.spec);
  const bool per_row = g.kind == fakequant::Granularity::kPerChannel && (g.axis == 0 || g.axis == -2);
  const int64_t block = g.kind == fakequant::Granularity::kPerGroup ? g.group_size : per_row ? in : 0;
  if (block <= 0 || in % block != 0 || !bnb_block_size(block))
    refuse_quant(f, name + " (" + scheme + "): bitsandbytes blocks are powers of two in 32..4096 cutting the flattened "
                        "weight, so the scheme needs groups of such a size dividing in = " + std::to_string(in));
  Blockwise4Bit b;
  b.type = FourBitType::kNf4;
  b.numel = out * in;
  b.block_size = block;
  b.double_quant = false;
  b.codes.assign(static_cast<size_t>((b.numel + 1) / 2), 0);
  for (int64_t i = 0; i < b.numel; ++i) {  // high nibble first
    const auto code = static_cast<uint8_t>(q.codes[static_cast<size_t>(i)]);
    b.codes[static_cast<size_t>(i / 2)] |= static_cast<uint8_t>(i % 2 == 0 ? code << 4 : code);
  }
  b.absmax = q.params.scales;
  return b;
}

const float* weight_data(const LlamaExport& m, const std::string& name) {
  for (const auto& [param, value] : m.model->named_parameters())
    if (param == name) return value.data().data();
  throw std::logic_error("export --format hf: the model has no parameter '" + name + "'");
}

// A QLoRA run's packed base as the row's blocks: NF4 for bnb-nf4; bnb_fp4 (bitsandbytes' own codes) or
// fp4 (E2M1 / 6, remapped by the packer, which refuses a subnormal code naming the element) for bnb-fp4.
const Blockwise4Bit& blocks_of_base(const HfQuantFormat& f, const std::string& name, const autograd::PackedWeightPtr& p) {
  const auto packed = std::dynamic_pointer_cast<const fakequant::Packed4BitWeight>(p);
  const FourBitType type = packed ? packed->blocks().type : FourBitType::kNf4;
  if (!packed || hq::bnb_quant_type(type) != f.layout)
    refuse_quant(f, name + ": the QLoRA base is " + p->format() + ", not " +
                        (f.layout == "nf4" ? "nf4" : "bnb_fp4 or fp4"));
  return packed->blocks();
}

}  // namespace

QuantizedExport quantize_bnb_4bit(const LlamaExport& m, const HfQuantFormat& f, const std::string& float_dtype) {
  // Codes the run has (a scheme's, a QLoRA base's), or none at all: a float run, quantized here.
  const bool float_run = m.quantized.empty() && m.group_index.empty() && m.packed_base.empty() && m.spqr.empty();
  const FourBitType type = hq::bnb_four_bit_type(std::string(f.layout));
  std::vector<hq::Bnb4BitWeight> weights;
  std::vector<std::string> float_modules;
  std::string first, source;
  for (const ExpectedTensor& t : linear_weights(m.model->config())) {
    const std::string prefix = hq::module_prefix(t.name);
    Blockwise4Bit blocks;
    if (t.name == "lm_head.weight") {
      float_modules.push_back(prefix);
      continue;
    } else if (const auto q = m.quantized.find(t.name); q != m.quantized.end()) {
      blocks = blocks_of_scheme(f, t.name, q->second);
      source = "the run's " + q->second.spec.describe() + " codes";
    } else if (const auto p = m.packed_base.find(t.name); p != m.packed_base.end()) {
      blocks = blocks_of_base(f, t.name, p->second);
      const std::string base = type == FourBitType::kNf4 ? "NF4" : fakequant::four_bit_type_name(blocks.type);
      source = "the QLoRA run's " + base + " base as it trained (adapters not merged: write them with --format peft)";
    } else if (m.group_index.count(t.name)) {
      refuse_quant(f, t.name + " (GPTQ act-order, dynamic groups) has integer codes; " + std::string(f.name) + " holds " +
                          std::string(f.holds));
    } else if (m.spqr.count(t.name)) {
      refuse_codes(f, m, t.name);
    } else if (!float_run) {
      float_modules.push_back(prefix);
      continue;
    } else {
      blocks = fakequant::quantize_blockwise_4bit(weight_data(m, t.name), t.shape[0] * t.shape[1], type, {}, t.name);
      source = std::string("the float weights, quantized at export (") +
               (type == FourBitType::kNf4 ? "NF4" : "bitsandbytes FP4") + ", blocks of 64, double quantization)";
    }
    if (!weights.empty() && (blocks.block_size != weights[0].blocks.block_size ||
                             blocks.double_quant != weights[0].blocks.double_quant))
      refuse_quant(f, t.name + " (blocks of " + std::to_string(blocks.block_size) + ") and " + first + " (blocks of " +
                          std::to_string(weights[0].blocks.block_size) + ") differ; one quantization_config holds one");
    if (weights.empty()) first = t.name;
    weights.push_back({prefix, t.shape[0], t.shape[1], std::move(blocks)});
  }
  if (weights.empty())
    refuse_quant(f, std::string("the model has no decoder Linear with ") + (type == FourBitType::kNf4 ? "NF4" : "FP4") + " codes");
  hq::BnbOptions options;
  options.type = type;
  options.double_quant = weights[0].blocks.double_quant;
  options.blocksize = weights[0].blocks.block_size;
  options.dtype = float_dtype;
  options.skip_modules = float_modules;
  QuantizedExport out;
  for (const hq::Bnb4BitWeight& w : weights) {
    try {
      out.packed[w.name + ".weight"] = hq::pack_bnb_4bit(w, options);
    } catch (const std::invalid_argument& e) {
      refuse_quant(f, e.what());
    }
  }
  out.config_json = hq::bnb_4bit_config(options);
  out.source = std::to_string(weights.size()) + " Linears from " + source;
  return out;
}

}  // namespace qforge::exporters::hf
