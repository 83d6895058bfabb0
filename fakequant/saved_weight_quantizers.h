#pragma once
// Weight quantizers a post-training method installs in place of the rules' Quantizer because the rules
// cannot describe its representation: SpQR (fakequant/spqr_weight.h) and QuIP# (fakequant/
// quip_sharp_weight.h). Each is saved under "<layer>.weight_quantizer." with a layout buffer that names
// its kind; the one place that knows the kinds is this file's install function, which every reader of
// a post-training checkpoint (`qforge eval`, generation, exporters) calls before loading the state.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/linear.h"

namespace qforge::fakequant {

// Puts `quantizer` on `linear` as its weight quantizer; the input quantizer, if any, is put back after
// it, the order prepare_qat installs them in (so parameter names and their order stay those of a
// freshly prepared model).
void replace_weight_quantizer(layers::Linear& linear, std::shared_ptr<layers::UnaryModule> quantizer);

// Before a checkpoint's state is loaded: every Linear whose weight quantizer `buffers` saved as SpQR or
// QuIP# gets a blank one of the saved sizes, so the load fills it. Returns the number of layers changed.
int install_saved_weight_quantizers(layers::Module& model, const std::map<std::string, std::vector<int64_t>>& buffers);

}  // namespace qforge::fakequant
