#pragma once
// Observing the inputs of Linear layers over the calibration batches, the way every post-training
// method that needs activation statistics does it (GPTQ's Hessians, SmoothQuant's channel maxima): a
// hook module sits in the layer's input-quantizer slot (layers/quantizable.h) while the batches run.
#include <memory>
#include <utility>
#include <vector>

#include "layers/linear.h"
#include "ptq/method.h"

namespace qforge::ptq {

// While alive, every Linear of `model` runs on its float input (and, with kInputsAndWeights, its float
// weight): the quantizers are taken out on construction and put back on destruction (also when a
// method throws). GPTQ's Hessians are of float inputs of the partly quantized model; SmoothQuant's
// maxima are the float model's. Activation quantizers are calibrated afterwards.
enum class FloatParts { kInputs, kInputsAndWeights };
class FloatLinears {
 public:
  FloatLinears(layers::Module& model, FloatParts parts);
  ~FloatLinears();
  FloatLinears(const FloatLinears&) = delete;
  FloatLinears& operator=(const FloatLinears&) = delete;

 private:
  struct Saved {
    std::shared_ptr<layers::Linear> linear;
    std::shared_ptr<layers::UnaryModule> input, weight;
  };
  std::vector<Saved> saved_;
};

// Installs each hook as its Linear's input quantizer, runs every calibration batch without gradients,
// and removes the hooks. The Linears must have no input quantizer (hold a FloatLinears).
using InputHook = std::pair<std::shared_ptr<layers::Linear>, std::shared_ptr<layers::UnaryModule>>;
void run_with_input_hooks(const std::vector<InputHook>& hooks, const Calibration& calibration);

}  // namespace qforge::ptq
