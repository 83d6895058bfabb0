#include "ptq/input_hooks.h"

#include "autograd/variable.h"

namespace qforge::ptq {

FloatLinears::FloatLinears(layers::Module& model, FloatParts parts) {
  for (auto& [name, module] : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear) continue;
    Saved saved{linear, linear->take_input_quantizer(), nullptr};
    if (parts == FloatParts::kInputsAndWeights) saved.weight = linear->take_weight_quantizer();
    saved_.push_back(std::move(saved));
  }
}

FloatLinears::~FloatLinears() {
  for (Saved& s : saved_) {
    s.linear->take_input_quantizer();  // a hook left behind by an exception
    // Weight first, then input: the order prepare_qat installs them in, so named_parameters() keeps
    // its order (optimizer groups and checkpoints list parameters in it).
    if (s.weight) s.linear->set_weight_quantizer(s.weight);
    if (s.input) s.linear->set_input_quantizer(s.input);
  }
}

void run_with_input_hooks(const std::vector<InputHook>& hooks, const Calibration& calibration) {
  for (const auto& [linear, hook] : hooks) linear->set_input_quantizer(hook);
  {
    autograd::NoGradGuard no_grad;
    for (int64_t b = 0; b < calibration.batches; ++b) calibration.forward(b);
  }
  for (const auto& [linear, hook] : hooks) linear->take_input_quantizer();
}

}  // namespace qforge::ptq
