#pragma once
// Weight quantizers a post-training method installs in place of the rules' Quantizer (with
// layers::Quantizable::replace_weight_quantizer) because the rules cannot describe its representation:
// SpQR (fakequant/spqr_weight.h), QuIP# (fakequant/quip_sharp_weight.h) and GPTQ act-order with dynamic
// groups (fakequant/group_index_weight.h). Each is saved under "<layer>.weight_quantizer." with a layout buffer that names
// its kind; the one place that knows the kinds is this file's install function, which every reader of
// a post-training checkpoint (`qforge eval`, generation, exporters) calls before loading the state.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/linear.h"

namespace qforge::fakequant {

// Before a checkpoint's state is loaded: every Linear whose weight quantizer `buffers` saved as SpQR, QuIP#
// or a group-index weight gets a blank one of the saved sizes, so the load fills it. Returns the number of layers changed.
int install_saved_weight_quantizers(layers::Module& model, const std::map<std::string, std::vector<int64_t>>& buffers);

}  // namespace qforge::fakequant
