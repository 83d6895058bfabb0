#pragma once
// Format-exact GGUF fake quantization: the weight as llama.cpp will see it after `qforge export`.
//
// Forward: every row of the weight along its last dimension (GGUF ne0: the input dimension of a
// Linear [out, in], the hidden dimension of an Embedding [vocab, dim]) becomes
// dequantize_row(quantize_row(row)) of the ggml block codec (fakequant/formats/ggml/block_types.h
// fake_quantize_row), the very function the GGUF exporter encodes with, with the same importance
// (imatrix: one weight per input channel, shared by every row, as llama.cpp's quantize_chunk passes
// it) or none, so an exported tensor dequantizes to this output bit for bit. OpenMP over rows; each row
// is independent, so the result does not depend on the thread count.
//
// Backward: straight-through estimator (Bengio et al. 2013), dx = dy for every element. Clipped STE
// does not apply: every ggml block type takes its scale (and min) from the block's own values, so the
// scale covers the block max — Q8_0 d = absmax / 127; Q5_0 d = max / -16; Q4_K / Q6_K / IQ4_NL
// search scales around that start (ggml-quants.c make_qkx2_quants / make_qx_quants / the IQ4_NL
// search) and accept a slightly smaller one only where it lowers the block's error. A weight is at
// most about one step from its grid, wherever it lies: the error is rounding, not saturation, and
// there is no outside range whose gradient a clipped STE would zero (doing so would starve exactly
// the weights that set their block's scale).
#include <string>

#include "autograd/variable.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::fakequant {

// x: a tensor with at least one dimension whose last dimension is a multiple of the block size
// (throws std::invalid_argument naming `context`, the type and the lengths otherwise). importance:
// x.dim(-1) floats weighting every row's codec (the codecs that take one), or nullptr: unweighted.
autograd::Variable fake_quant_ggml(const autograd::Variable& x, const ggml::BlockType& type, const std::string& context,
                                   const float* importance = nullptr);

}  // namespace qforge::fakequant
