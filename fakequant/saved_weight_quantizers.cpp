#include "fakequant/saved_weight_quantizers.h"

#include "fakequant/quip_sharp_weight.h"
#include "fakequant/spqr_weight.h"

namespace qforge::fakequant {

void replace_weight_quantizer(layers::Linear& linear, std::shared_ptr<layers::UnaryModule> quantizer) {
  std::shared_ptr<layers::UnaryModule> input = linear.take_input_quantizer();
  linear.take_weight_quantizer();
  linear.set_weight_quantizer(std::move(quantizer));
  if (input) linear.set_input_quantizer(input);
}

int install_saved_weight_quantizers(layers::Module& model, const std::map<std::string, std::vector<int64_t>>& buffers) {
  int installed = 0;
  for (auto& [name, module] : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear) continue;
    const std::string prefix = name + ".weight_quantizer.";
    std::shared_ptr<layers::UnaryModule> saved = saved_spqr_quantizer(prefix, buffers);
    if (!saved) saved = saved_quip_sharp_quantizer(prefix, buffers);
    if (!saved) continue;
    replace_weight_quantizer(*linear, saved);
    ++installed;
  }
  return installed;
}

}  // namespace qforge::fakequant
