#pragma once
// QuIP#'s fine-tuning (Tseng et al. 2024, "QuIP#: Even Better LLM Quantization with Hadamard
// Incoherence and Lattice Codebooks", §5; facts from Cornell-RelaxML/quip-sharp's lib/algo/finetune.py,
// quantize_llama/quantize_finetune_llama.py and finetune_e2e_llama.py). The codes stay frozen; what
// is still free is tuned, with the sign vectors SU and SV relaxed to real values:
//   - per decoder layer (quip-sharp's quantize_finetune_decoder_layer): after each true-sequential
//     subset but the last (q/k/v, o, gate/up; not after down) is quantized, the layer's SU/SV, its
//     still unquantized Linear weights and its RMSNorm weights are tuned so the layer's output matches
//     the original layer's on the calibration inputs (MSE); Adam, lr 5e-5 and 5e-4 for SU/SV, 5 epochs
//     (quip-sharp's ft_lr, ft_susv_lr, ft_epochs). quip-sharp feeds the layer the float model's hidden
//     states; qforge's walk feeds it the partly quantized model's (ptq/sequential.h), and the target is
//     the original layer's output on those same inputs;
//   - end to end (finetune_susv_e2e): SU/SV of every QuIP# layer, the RMSNorm weights and any Linear left
//     unquantized (lm_head when kept float), not the embedding (quip-sharp embeds once), so the model's
//     next-token distribution matches the original model's: cross-entropy against its softmax (soft
//     targets) over every position; Adam, lr 1e-5 and 1e-4 for SU/SV (finetune_e2e_llama.py defaults).
// Shared facts: quip-sharp stores SV with Wscale folded in (SV * Wscale); Adam's step does not depend on
// the gradient's scale, so its step on that product is ours on SV at lr / Wscale, which is what we use.
// The last third of the batches is held out (quip-sharp: ft_valid_size 128 of a 384-sequence devset);
// after every epoch the held-out loss is measured, the best state is kept and training stops after 3
// epochs without improvement (ft_early_stop). One Adam step per training batch.
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "autograd/variable.h"
#include "layers/llama.h"
#include "layers/llama_decoder_layer.h"
#include "ptq/method.h"

namespace qforge::ptq {

struct QuipSharpFinetuneOptions {
  int epochs = 0;               // end to end: passes over the training batches; 0: off
  double lr = 1e-5;             // end to end: quip-sharp ft_lr (norms, float Linears)
  double susv_lr = 1e-4;        // end to end: quip-sharp ft_susv_lr (SU; SV at susv_lr / Wscale)
  int layer_epochs = 0;         // per decoder layer: passes; 0: off (quip-sharp's ft_epochs is 5)
  double layer_lr = 5e-5;       // per decoder layer: ft_lr
  double layer_susv_lr = 5e-4;  // per decoder layer: ft_susv_lr
  int early_stop = 3;           // quip-sharp ft_early_stop
};

// The original model's next-token probabilities on each calibration batch (softmax of its logits),
// taken before quantization. std::invalid_argument when the calibration offers no token ids.
std::vector<autograd::Tensor> original_probabilities(layers::LlamaForCausalLM& model, const Calibration& calibration);

// The end-to-end fine-tuning of `model` (QuIP# layers installed); prints its held-out loss before and
// after to stderr. Leaves the best state found (the starting one if no epoch improves the held-out
// loss) and every QuIP# latent weight equal to its forward.
void quip_sharp_finetune(layers::LlamaForCausalLM& model, const Calibration& calibration,
                         const std::vector<autograd::Tensor>& targets, const QuipSharpFinetuneOptions& options);

// The per-layer fine-tuning of `layer` on its calibration inputs and the original layer's outputs
// on them (one per batch); `name` labels the stderr line. Leaves the layer as quip_sharp_finetune does.
void quip_sharp_finetune_layer(layers::LlamaDecoderLayer& layer, const std::vector<autograd::Variable>& inputs,
                               const std::vector<autograd::Tensor>& targets, const QuipSharpFinetuneOptions& options,
                               const std::string& name);

}  // namespace qforge::ptq
