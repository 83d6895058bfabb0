#pragma once
// QuIP# weights (Tseng et al. 2024, "QuIP#: Even Better LLM Quantization with Hadamard Incoherence and
// Lattice Codebooks", §3-4; docs/quip_sharp.md): the weight quantizer ptq/quip_sharp_method.h installs
// on a Linear in place of the rules' Quantizer. It holds the whole QuIP# representation of the weight:
//   - codes [rows, cols / 8]: one 16-bit E8P code (fakequant/formats/e8p.h, codebook version 1, "E8P12")
//     per 8 consecutive inputs of a row of the transformed weight W';
//   - SU [cols], SV [rows]: the sign vectors of the incoherence processing; real values after the
//     paper's §5 fine-tuning (quip-sharp stores them as fp16 and tunes them as float);
//   - Wscale: the codebook scale, W'_hat = Wscale * E8P(codes).
// Its forward ignores the latent weight's values and returns the layer's weight computed from these,
//   W = diag(SV) T_out^T (Wscale * E8P(codes)) T_in diag(SU),
// evaluated as W_ij = float(Wscale * SV_i * M_ij * SU_j) in double with M = T_out^T E8P(codes) T_in
// (fakequant/hadamard.h transforms in double, M kept as float): deterministic, so a checkpoint rebuilds
// the model bit for bit. Gradients reach SU and SV when they require grad (the fine-tuning), never the
// codes, Wscale or the latent weight.
//
// Fused projections (ptq/quip_sharp_method.h `quip_sharp:fused`, quip-sharp's qkv_proj / upgate_proj,
// docs/quip_sharp.md §4b): one QuIP# matrix for several Linears stacked on the output axis. Each Linear's
// quantizer then holds the whole fused state and the rows [row_begin, row_end) that are its weight; its
// forward is those rows of the fused W (the transform over the outputs mixes all stacked rows, so the
// slice needs the whole matrix's codes).
//
// Saved by checkpoints under "<layer>.weight_quantizer.": int64 buffers "quip_sharp_layout"
// [rows, cols, codebook version 1] (or [rows, cols, 1, row_begin, row_end] for a row slice of a fused
// matrix) and "codes" [rows * cols / 8] (row-major, values 0..65535), float parameters "su" [cols],
// "sv" [rows], "wscale" [1].
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace qforge::fakequant {

inline constexpr int64_t kQuipSharpCodebookE8p12 = 1;  // quip-sharp's codebook version of E8P12

struct QuipSharpState {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> codes;  // [rows * cols / 8]
  std::vector<float> su, sv;   // [cols], [rows]
  float wscale = 1;
  // The Linear's rows of a fused matrix: [row_begin, row_end); row_end 0 means all rows (not fused).
  int64_t row_begin = 0, row_end = 0;
  bool is_slice() const { return row_end != 0; }
  int64_t layer_rows() const { return is_slice() ? row_end - row_begin : rows; }
};

// quip-sharp's fused modules of a Llama decoder layer (Cornell-RelaxML/quip-sharp model/llama.py:
// LlamaAttention.qkv_proj splits into (q, k, v), LlamaMLP.upgate_proj into (up, gate)): the module name
// and the projections stacked on its output axis, in that order, relative to "model.layers.<i>.".
struct QuipSharpFusedModule {
  std::string name;
  std::vector<std::string> parts;
};
const std::vector<QuipSharpFusedModule>& quip_sharp_fused_modules();

// The weight the state computes ([layer_rows, cols], row-major: the slice's rows of a fused state),
// exactly as the quantizer's forward does.
// std::invalid_argument naming the field when sizes or codes do not fit.
std::vector<float> quip_sharp_weight(const QuipSharpState& state);

class QuipSharpWeightQuantizer : public layers::UnaryModule {
 public:
  explicit QuipSharpWeightQuantizer(const QuipSharpState& state);
  // x: the latent weight [layer_rows, cols], only its shape is read. Output as the file comment says.
  autograd::Variable forward(const autograd::Variable& x) override;
  QuipSharpState state() const;
  // Whether SU and SV receive gradients (the §5 fine-tuning); false after construction.
  void set_signs_trainable(bool trainable);

 private:
  const std::vector<float>& transformed_codewords() const;  // M, rebuilt when the codes change (a load)
  void check() const;
  layers::IntBuffer layout_, codes_;
  autograd::Variable su_, sv_, wscale_;
  mutable std::vector<int64_t> cached_codes_;
  mutable std::vector<float> m_;
};

// A blank quantizer of the sizes saved under `prefix` ("<layer>.weight_quantizer.") for a load to
// fill, or null when `buffers` holds no QuIP# layout there.
std::shared_ptr<QuipSharpWeightQuantizer> saved_quip_sharp_quantizer(const std::string& prefix,
                                                                     const std::map<std::string, std::vector<int64_t>>& buffers);

}  // namespace qforge::fakequant
