#pragma once
// QuIP# E8P12 Linear weights as quip-sharp's own QuantizedLinear saves and loads them (its hfize_llama
// output; no transformers or vLLM loader reads them; docs/hf-quantized.md §10): the 16-bit E8P codes
// (fakequant/formats/e8p.h) packed four to an int64, the fp16 sign vectors SU and SV, Wscale and the
// codebook id. The model is W = diag(SV * Wscale) H_out G H_in diag(SU), G the decoded codewords and H
// the normalized Hadamard matrices.
#include <cstdint>
#include <string>
#include <vector>

#include "exporters/hf/quant/hf_quant.h"

namespace qforge::exporters::hf::quant {

inline constexpr int64_t kQuipSharpE8p12CodebookId = 7;  // quip-sharp's codebook_id of "E8P12"

struct QuipSharpWeight {
  std::string name;             // module prefix P: "P.Qidxs", "P.SU", "P.SV", "P.Wscale", "P.codebook_id"
  int64_t out = 0, in = 0;      // 2^k or 12 * 2^k (quip-sharp's get_hadK), out a multiple of 16, in of 64
  std::vector<uint16_t> codes;  // [out * in / 8] E8P codes, row-major, 8 consecutive inputs each
  std::vector<uint16_t> su;     // [in] fp16 bits
  std::vector<uint16_t> sv;     // [out] fp16 bits (quip-sharp folds Wscale in here and writes Wscale = 1)
  float wscale = 1.0f;
  // A FusedQuantizedLinear (qkv_proj, upgate_proj): "P.fuse_scales" F32 [parts], the factor of each part's
  // output rows. Empty: a plain QuantizedLinear.
  std::vector<float> fuse_scales;
};

// Throws std::invalid_argument "<name>: ..." on sizes that disagree, a shape the format cannot hold
// (sizes other than 2^k and 12 * 2^k use quip-sharp's other hard-coded Hadamard factors, 20, 28, ...,
// which are not written here), or SU, SV, Wscale or fuse scales that are not finite.
void validate(const QuipSharpWeight& w);

// P.Qidxs I64 [out, in / 32], P.SU F16 [in], P.SV F16 [out], P.Wscale F32 [], P.codebook_id I64 [] = 7,
// and P.fuse_scales F32 [parts] for a fused module.
std::vector<FileTensor> pack_quip_sharp(const QuipSharpWeight& w);
// The weight `prefix` back (sizes from SU and SV). std::invalid_argument naming the tensor that is
// missing or malformed, or a codebook_id other than 7.
QuipSharpWeight unpack_quip_sharp(const std::string& prefix, const FileTensors& tensors);

// The 64-bit word layout alone: codes [rows, cols] (cols = in / 8) <-> Qidxs [rows, cols / 4].
std::vector<int64_t> pack_e8p_qidxs(const std::vector<uint16_t>& codes, int64_t rows, int64_t cols);
std::vector<uint16_t> unpack_e8p_qidxs(const std::vector<int64_t>& words, int64_t rows, int64_t cols);

// W[out * in] = float32(M_ij * (SV'_i * SU_j) / sqrt(out * in)) with M = H_out G H_in^T, H = S_n for
// n = 2^k and had12 (x) S_{n/12} for n = 12 * 2^k (S the +-1 Sylvester matrices, had12 quip-sharp's;
// exact in double), SV' = fp16(SV * Wscale) as quip-sharp's forward makes it; a fused module's rows of
// part p then times float32 fuse_scales[p] (FusedQuantizedLinear.forward), the parts' sizes given by
// `fuse_sizes` (one per fuse scale, summing to out; std::invalid_argument naming P.fuse_scales otherwise).
std::vector<float> dequantize_quip_sharp(const QuipSharpWeight& w, const std::vector<int64_t>& fuse_sizes = {});

// config.json's "quip_params" object (quip-sharp puts it beside the model config, not under
// quantization_config): codebook "E8P12", codebook_version 1, codesz 8, packsz 4, idx_dtype
// "torch.int64", lora_rank 0, rescale_WH false, resid_scale_override -1, model_version 1.
std::string quip_sharp_params();
// std::invalid_argument naming the key when `quip_params_json` describes anything else.
void check_quip_sharp_params(const std::string& quip_params_json);

}  // namespace qforge::exporters::hf::quant
