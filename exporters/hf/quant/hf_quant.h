#pragma once
// Hugging Face quantized Linear weights (GPTQ, AWQ GEMM, compressed-tensors pack-quantized;
// docs/hf-quantized.md): qforge's integer representation of one weight, the tensors a loader reads
// from the safetensors file, and the options every quantized Linear of a model shares (they become
// config.json's quantization_config). The per-layout packers and unpackers sit in one table,
// hf_quant_layouts.h; the bit-level helpers in bit_packing.h.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "exporters/safetensors/safetensors.h"

namespace qforge::exporters::hf::quant {

// One Linear weight W[out, in] (PyTorch layout, y = x W^T) as unsigned integer codes with a scale
// and an integer zero point per (row, group): W[o, i] = scales[o, g] * (codes[o, i] - zeros[o, g]),
// g = the group of column i (docs/hf-quantized.md §1). This is fakequant::GroupIndexState's form;
// symmetric qforge codes c in [-2^(b-1), 2^(b-1)) are c + 2^(b-1) with zero 2^(b-1) (adapter.h).
struct GroupedIntWeight {
  std::string name;            // module prefix P ("model.layers.0.mlp.up_proj"); tensors are "P.qweight", ...
  int64_t out = 0, in = 0;
  int bits = 4;
  int64_t group_size = 128;    // columns per group; `in` for one group per row
  std::vector<int32_t> codes;  // [out * in] row-major, 0 .. 2^bits - 1
  std::vector<float> scales;   // [out * groups] row-major, positive and finite
  std::vector<int32_t> zeros;  // [out * groups] row-major, 0 .. 2^bits - 1
  std::vector<int32_t> g_idx;  // [in]: the group of each column (act-order); empty: column / group_size

  int64_t groups() const { return group_size > 0 ? in / group_size : 0; }
  int32_t group_of(int64_t column) const {
    return g_idx.empty() ? static_cast<int32_t>(column / group_size) : g_idx[column];
  }
};

// Throws std::invalid_argument "<name>: ..." when sizes disagree, bits is outside 2..8, the group size
// does not divide `in`, a code or zero is outside 0 .. 2^bits - 1, a scale is not positive and finite,
// or g_idx has a value outside 0 .. groups - 1 or a group with other than group_size columns (what
// GPTQ act-order produces and compressed-tensors requires, docs/hf-quantized.md §2).
void validate(const GroupedIntWeight& w);

// True when g_idx is empty or equal to column / group_size everywhere (no act-order permutation).
bool has_contiguous_groups(const GroupedIntWeight& w);

// W[out * in] in float32 by the formula above. Exact: q - z is an integer below 2^9 in magnitude and
// the scales the files hold have at most 11 (F16) or 8 (BF16) significant bits, so each product fits
// float32's 24 (docs/hf-quantized.md §1).
std::vector<float> dequantize(const GroupedIntWeight& w);

// The dtype scales are stored in: F16 (GPTQ, AWQ) or the model's dtype (compressed-tensors: F16, BF16, F32).
enum class ScaleDtype { kF16, kBF16, kF32 };

// What every quantized Linear of one model shares; the quantization_config says it once.
struct HfQuantOptions {
  int bits = 4;
  int64_t group_size = 128;   // -1: one group per row (compressed-tensors strategy "channel")
  bool symmetric = true;      // every zero point is 2^(bits-1) (compressed-tensors then stores none)
  bool act_order = false;     // g_idx stored: GPTQ desc_act, compressed-tensors actorder "group"
  bool gptq_v2 = false;       // GPTQ checkpoint_format "gptq_v2" (zeros as they are), else "gptq" (zeros - 1)
  ScaleDtype scale_dtype = ScaleDtype::kF16;  // compressed-tensors only; GPTQ and AWQ store F16
  std::vector<std::string> ignore = {"lm_head"};  // modules left float (CT "ignore", AWQ "modules_to_not_convert")
};

// A tensor as the safetensors file holds it (docs/safetensors.md §1): full name, dtype (I32, I64, U8,
// F16, BF16, F32), shape and the little-endian bytes; the safetensors writer takes them as they are.
using FileTensor = safetensors::EncodedTensor;
using FileTensors = safetensors::EncodedTensors;

}  // namespace qforge::exporters::hf::quant
