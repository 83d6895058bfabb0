#pragma once
// bitsandbytes 4-bit Linear weights (NF4 / FP4, optional double quantization) as transformers saves a
// Linear4bit and reloads it (docs/hf-quantized.md §5). The representation is not the integer one of
// hf_quant_layouts.h but qforge's QLoRA base weight, fakequant::Blockwise4Bit (Packed4BitWeight::blocks()),
// whose fields are bitsandbytes' QuantState one for one; this file names them, writes the quant_state
// JSON, and maps qforge's FP4 codes (OCP E2M1 / 6) onto bitsandbytes' "fp4" table. A "fp4" file holds
// bitsandbytes' own codes, which read back as BNB_FP4 blocks (fakequant/formats/bnb_fp4.h) as they are.
#include <array>
#include <string>
#include <vector>

#include "exporters/hf/quant/hf_quant.h"
#include "fakequant/formats/blockwise_4bit.h"

namespace qforge::exporters::hf::quant {

struct Bnb4BitWeight {
  std::string name;  // module prefix P; tensors are "P.weight", "P.weight.absmax", ...
  int64_t out = 0, in = 0;
  fakequant::Blockwise4Bit blocks;  // out * in elements, flattened row-major
};

// What the model's quantization_config and every quant_state share.
struct BnbOptions {
  fakequant::FourBitType type = fakequant::FourBitType::kNf4;  // kNf4 or kBnbFp4 (bnb_4bit_quant_type)
  bool double_quant = true;     // bnb_4bit_use_double_quant (nested blocks of 256)
  int64_t blocksize = 64;       // 32, 64, ..., 4096 (bitsandbytes' quantize_4bit)
  std::string dtype = "bfloat16";  // the weight's dtype before quantization = compute dtype: float16 | bfloat16 | float32
  std::vector<std::string> skip_modules = {"lm_head"};  // llm_int8_skip_modules
};

// bitsandbytes' 16-entry tables as QuantState.code holds them (get_4bit_type): NF4 = qforge's NF4
// table; "fp4" (for kFp4 and kBnbFp4) = fakequant::bnb_fp4_values(), [0, 0.0625, 8, 12, 4, 6, 2, 3, 0,
// -0.0625, -8, -12, -4, -6, -2, -3] / 12 in float32 (its "-0" is the integer 0, so entry 8 is +0.0).
const std::array<float, 16>& bnb_quant_map(fakequant::FourBitType type);
// The file's quant_type of blocks of `type`: "nf4", or "fp4" for kFp4 and kBnbFp4.
std::string bnb_quant_type(fakequant::FourBitType type);
// The blocks a file of `quant_type` holds: "nf4" -> kNf4, "fp4" -> kBnbFp4; std::invalid_argument else.
fakequant::FourBitType bnb_four_bit_type(const std::string& quant_type);

// The tensors of one weight: P.weight U8 [ceil(n/2), 1], P.weight.absmax (F32 [blocks], or U8 [blocks]
// with double quantization), P.weight.quant_map F32 [16], with double quantization P.weight.nested_absmax
// F32 [ceil(blocks/256)] and P.weight.nested_quant_map F32 [256], and
// P.weight.quant_state.bitsandbytes__<nf4|fp4> U8 (UTF-8 JSON). std::invalid_argument naming the weight
// when the blocks disagree with the options or the shape (kFp4 and kBnbFp4 blocks both go in an "fp4"
// file), or a kFp4 weight holds qforge's subnormal code (±1/12 of the block absmax), which bitsandbytes'
// "fp4" cannot represent (its smallest is 1/192); kBnbFp4 codes are written as they are.
std::vector<FileTensor> pack_bnb_4bit(const Bnb4BitWeight& w, const BnbOptions& options);

// The weight `prefix` back from `tensors`, everything read from the quant_state JSON and checked
// against the tensors (the quant maps must be bitsandbytes' tables exactly); an "fp4" file gives kBnbFp4
// blocks with the stored codes. std::invalid_argument naming the tensor or JSON key missing or wrong.
Bnb4BitWeight unpack_bnb_4bit(const std::string& prefix, const FileTensors& tensors);

// W[out * in] as bitsandbytes dequantizes it: bnb_quant_map[stored code] * absmax of the block, the
// absmax of a double-quantized block being nested_quant_map[code] * nested_absmax + offset (two float32
// roundings). Equal to qforge's own dequantization of the blocks except that kFp4's -0 code gives +0.0
// (bitsandbytes' table has +0 there).
std::vector<float> dequantize_bnb_4bit(const Bnb4BitWeight& w);

// The quant_state JSON text exactly as bitsandbytes writes it (Python json.dumps of QuantState.as_dict's
// non-tensor entries, in that order).
std::string bnb_quant_state_json(const Bnb4BitWeight& w, const BnbOptions& options);

// config.json's quantization_config (transformers BitsAndBytesConfig) and its reader.
std::string bnb_4bit_config(const BnbOptions& options);
BnbOptions bnb_4bit_options(const std::string& config_json);

// Python's repr of a double (shortest round trip; fixed notation for decimal exponents -4 .. 15 with at
// least one fractional digit, else d.ddde±XX), which json.dumps uses for floats.
std::string python_float_repr(double value);

}  // namespace qforge::exporters::hf::quant
