#include "fakequant/saved_weight_quantizers.h"

#include "fakequant/group_index_weight.h"
#include "fakequant/quip_sharp_weight.h"
#include "fakequant/spqr_weight.h"

namespace qforge::fakequant {

int install_saved_weight_quantizers(layers::Module& model, const std::map<std::string, std::vector<int64_t>>& buffers) {
  int installed = 0;
  for (auto& [name, module] : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear) continue;
    const std::string prefix = name + ".weight_quantizer.";
    std::shared_ptr<layers::UnaryModule> saved = saved_spqr_quantizer(prefix, buffers);
    if (!saved) saved = saved_quip_sharp_quantizer(prefix, buffers);
    if (!saved) saved = saved_group_index_quantizer(prefix, buffers);
    if (!saved) continue;
    linear->replace_weight_quantizer(saved);
    ++installed;
  }
  return installed;
}

}  // namespace qforge::fakequant
