#pragma once
// Pieces shared by fake_quant_op.cpp, fake_quant_pact.cpp and fake_quant_dynamic.cpp.
// Internal to fakequant/.
#include <cstdint>
#include <memory>

#include "autograd/variable.h"
#include "fakequant/quantizer_spec.h"

namespace qforge::fakequant::detail {

// One byte per element: 1 where the element lies inside the grid (clipped STE passes dy there).
using ClipMask = std::shared_ptr<uint8_t[]>;
inline ClipMask make_clip_mask(int64_t numel) { return ClipMask(new uint8_t[numel > 0 ? numel : 1]); }

// The result Variable of a fake-quantization whose only differentiable input is x: straight-through
// (dx = dy) without a mask, clipped straight-through (dx = mask ? dy : 0) with one.
autograd::Variable straight_through_result(autograd::Tensor out, const autograd::Variable& x, ClipMask mask,
                                           const char* name);

// kPact branch of fake_quant (fake_quant_pact.cpp); spec is already validated.
autograd::Variable fake_quant_pact(const autograd::Variable& x, const autograd::Variable& alpha,
                                   const QuantizerSpec& spec);

}  // namespace qforge::fakequant::detail
