// QuIP#'s fine-tuning (quip_sharp_finetune.h): per decoder layer and end to end.
#include "ptq/quip_sharp_finetune.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "autograd/variable.h"
#include "fakequant/quip_sharp_weight.h"
#include "layers/linear.h"
#include "layers/rms_norm.h"
#include "optim/adam.h"

namespace qforge::ptq {
namespace {

namespace ag = qforge::autograd;

struct Tuned {
  std::vector<optim::ParamGroup> groups;
  std::vector<ag::Variable> params;  // every tuned parameter, for the best state
  std::vector<std::pair<std::shared_ptr<layers::Linear>, std::shared_ptr<fakequant::QuipSharpWeightQuantizer>>> quip;
};

// What quip_sharp_finetune.h says is tuned inside `module`, in module order: SU and SV of QuIP# layers
// (SV at lr / Wscale), the weights of Linears without a weight quantizer and, with `unquantized`, of
// Linears whose weight quantizer is still the rules' (not yet quantized), RMSNorm weights.
Tuned tuned_parameters(layers::Module& module, double lr, double susv_lr, bool unquantized) {
  Tuned t;
  const auto add = [&t](ag::Variable p, double group_lr) {
    p.set_requires_grad(true);
    t.groups.emplace_back(std::vector<ag::Variable>{p}, group_lr);
    t.params.push_back(p);
  };
  for (auto& [name, child] : module.named_modules()) {
    if (auto norm = std::dynamic_pointer_cast<layers::RMSNorm>(child)) add(norm->weight(), lr);
    auto linear = std::dynamic_pointer_cast<layers::Linear>(child);
    if (!linear) continue;
    auto quip = std::dynamic_pointer_cast<fakequant::QuipSharpWeightQuantizer>(linear->weight_quantizer());
    if (!quip) {
      if (!linear->weight_quantizer() || unquantized) add(linear->weight(), lr);
      continue;
    }
    quip->set_signs_trainable(true);
    const float wscale = quip->state().wscale;
    for (const auto& [pname, p] : quip->named_parameters()) {
      if (pname == "su") add(p, susv_lr);
      if (pname == "sv") add(p, susv_lr / wscale);
    }
    t.quip.emplace_back(linear, quip);
  }
  return t;
}

std::vector<ag::Tensor> snapshot(const std::vector<ag::Variable>& params) {
  std::vector<ag::Tensor> out;
  for (const ag::Variable& p : params) out.push_back(p.data().clone());
  return out;
}

// The loop both fine-tunings share: Adam over `tuned`, one step per training batch (the first
// batches - held_out), the held-out loss after every epoch, the best state kept, early stop. Leaves
// the best state, the tuned parameters without gradients and the QuIP# latent weights decoded.
void tune(Tuned& tuned, const std::function<ag::Variable(int64_t)>& loss, int64_t batches, const QuipSharpFinetuneOptions& o,
          int epochs, const std::string& what) {
  const int64_t held_out = std::max<int64_t>(1, batches / 3), train = batches - held_out;
  if (train < 1) throw std::invalid_argument("ptq quip_sharp: fine-tuning needs at least 2 calibration batches (one held out)");
  const auto held_out_loss = [&] {
    ag::NoGradGuard no_grad;
    double total = 0;
    for (int64_t b = train; b < batches; ++b) total += loss(b).item();
    return total / static_cast<double>(held_out);
  };
  const ag::EnableGradGuard grad;  // the post-training walks run without gradients
  optim::Adam adam(tuned.groups, optim::AdamOptions(o.lr));
  double best = held_out_loss(), first = best;
  std::vector<ag::Tensor> best_state = snapshot(tuned.params);
  int best_epoch = 0;
  for (int epoch = 1, worse = 0; epoch <= epochs && worse < o.early_stop; ++epoch) {
    for (int64_t b = 0; b < train; ++b) {
      adam.zero_grad();
      loss(b).backward();
      adam.step();
    }
    const double now = held_out_loss();
    if (now < best) best = now, best_state = snapshot(tuned.params), worse = 0, best_epoch = epoch;
    else ++worse;
  }
  std::fprintf(stderr, "quip_sharp finetune %s: held-out loss %.6g -> %.6g (epoch %d)\n", what.c_str(), first, best, best_epoch);
  ag::NoGradGuard no_grad;
  for (size_t i = 0; i < tuned.params.size(); ++i) {
    std::copy(best_state[i].data(), best_state[i].data() + best_state[i].numel(), tuned.params[i].mutable_data().data());
    tuned.params[i].set_requires_grad(false);
  }
  for (auto& [linear, quip] : tuned.quip) {
    ag::Variable weight = linear->weight();
    const ag::Tensor decoded = quip->forward(weight).data();  // the latent weight stays the decoded one
    std::copy(decoded.data(), decoded.data() + decoded.numel(), weight.mutable_data().data());
  }
}

// Cross-entropy against soft targets: -sum_v p_v log softmax(z)_v, averaged over positions.
ag::Variable soft_cross_entropy(const ag::Variable& logits, const ag::Tensor& probabilities) {
  const int64_t positions = logits.numel() / logits.dim(logits.ndim() - 1);
  const ag::Variable total = ag::sum(ag::mul(ag::log_softmax(logits, -1), ag::Variable(probabilities)));
  return ag::mul_scalar(total, -1.0f / static_cast<float>(positions));
}

}  // namespace

std::vector<ag::Tensor> original_probabilities(layers::LlamaForCausalLM& model, const Calibration& calibration) {
  if (!calibration.token_ids) throw std::invalid_argument("ptq quip_sharp: fine-tuning needs the calibration's token ids");
  ag::NoGradGuard no_grad;
  std::vector<ag::Tensor> out;
  for (int64_t b = 0; b < calibration.batches; ++b) out.push_back(ag::softmax(model.forward(calibration.token_ids(b)), -1).data());
  return out;
}

void quip_sharp_finetune(layers::LlamaForCausalLM& model, const Calibration& calibration, const std::vector<ag::Tensor>& targets,
                         const QuipSharpFinetuneOptions& options) {
  if (options.epochs <= 0) return;
  Tuned tuned = tuned_parameters(model, options.lr, options.susv_lr, /*unquantized=*/false);
  const auto loss = [&](int64_t b) { return soft_cross_entropy(model.forward(calibration.token_ids(b)), targets[b]); };
  tune(tuned, loss, calibration.batches, options, options.epochs, "end to end");
}

void quip_sharp_finetune_layer(layers::LlamaDecoderLayer& layer, const std::vector<ag::Variable>& inputs,
                               const std::vector<ag::Tensor>& targets, const QuipSharpFinetuneOptions& options,
                               const std::string& name) {
  if (options.layer_epochs <= 0) return;
  Tuned tuned = tuned_parameters(layer, options.layer_lr, options.layer_susv_lr, /*unquantized=*/true);
  const auto loss = [&](int64_t b) { return ag::mse_loss(layer.forward(inputs[b]), ag::Variable(targets[b])); };
  tune(tuned, loss, static_cast<int64_t>(inputs.size()), options, options.layer_epochs, name);
}

}  // namespace qforge::ptq
