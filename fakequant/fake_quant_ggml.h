#pragma once
// Format-exact GGUF fake quantization: the weight as llama.cpp will see it after `qforge export`.
//
// Forward: every row of the weight along its last dimension (GGUF ne0: the input dimension of a
// Linear [out, in], the hidden dimension of an Embedding [vocab, dim]) becomes
// dequantize_row(quantize_row(row)) of the ggml block codec (fakequant/formats/ggml/block_types.h
// fake_quantize_row), the very function the GGUF exporter encodes with, unweighted (no importance
// matrix), so an exported tensor dequantizes to this output bit for bit. OpenMP over rows; each row
// is independent, so the result does not depend on the thread count.
//
// Backward: straight-through estimator (Bengio et al. 2013), dx = dy for every element. Clipped STE
// does not apply: every ggml block type derives its scale from the block's own values (Q8_0/Q5_0:
// absmax / qmax; Q4_K/Q6_K/IQ4_NL: a scale (and min) search over the block that starts from its
// max and min), so no weight lies outside the range its block can represent and nothing is clipped
// — the quantization error is rounding error only, whose surrogate gradient is the identity.
#include <string>

#include "autograd/variable.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::fakequant {

// x: a tensor with at least one dimension whose last dimension is a multiple of the block size
// (throws std::invalid_argument naming `context`, the type and the lengths otherwise).
autograd::Variable fake_quant_ggml(const autograd::Variable& x, const ggml::BlockType& type, const std::string& context);

}  // namespace qforge::fakequant
