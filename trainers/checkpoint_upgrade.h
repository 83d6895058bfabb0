#pragma once
// Reading checkpoints of earlier formats (checkpoint.h). Format 1 kept each quantizer's counters
// [initialized, steps, frozen] in a float32 parameter "<quantizer>.state", where a step count is
// exact only up to 2^24; format 2 keeps them in the int64 buffer "<quantizer>.counters"
// (fakequant/quantizer.h). "state" is no longer a parameter, so the optimizer's quantizer group
// (group 1, optimizer_factory.cpp: the quantizer parameters in model order) has fewer members and
// its entries are renumbered too.
#include "trainers/checkpoint.h"

namespace qforge::trainers {

// Rewrites a format-1 checkpoint in place into format 2: every "..._quantizer.state" model tensor
// becomes a "..._quantizer.counters" buffer, and the "group1.param<p>..." optimizer tensors and counts
// get the index they have without the "state" parameters (which never had optimizer state: they
// took no gradient). Throws std::invalid_argument naming the tensor for a malformed legacy state.
void upgrade_from_format_1(Checkpoint& c);

}  // namespace qforge::trainers
