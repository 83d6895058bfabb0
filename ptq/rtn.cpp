#include "ptq/rtn.h"

#include <stdexcept>

#include "autograd/variable.h"
#include "fakequant/qat.h"
#include "ptq/method.h"
#include "ptq/method_options.h"

namespace qforge::ptq {

void quantize_rtn(layers::Module& model, const Calibration& calibration, const std::string& options) {
  parse_method_options(options, "ptq rtn", accepted_options("rtn"), [](const std::string&, const std::string&) { return false; });
  fakequant::calibrate_weights(model);
  calibrate_activations(model, calibration);
}

void calibrate_activations(layers::Module& model, const Calibration& calibration) {
  // Activation observers watch the calibration batches with the model in eval mode (no dropout) and
  // only the static activation quantizers in training mode, so they observe; dynamic per-token
  // quantizers have nothing to calibrate.
  auto quantizers = fakequant::quantizers_of(model);
  bool any = false;
  for (auto& [name, q] : quantizers) {
    if (q->role() == fakequant::QuantizerRole::kActivation && !q->spec().dynamic_per_token) q->train(), any = true;
  }
  if (any) {
    autograd::NoGradGuard no_grad;
    for (int64_t b = 0; b < calibration.batches; ++b) calibration.forward(b);
  }
  for (auto& [name, q] : quantizers) q->freeze(), q->eval();
}

}  // namespace qforge::ptq
