#pragma once
// LoRA: low-rank adapters on frozen Linear layers (Hu et al. 2021, "LoRA: Low-Rank Adaptation of
// Large Language Models", §4.1), with the conventions of Hugging Face PEFT
// (docs/peft-lora.md §3): y = W x + scale * B A dropout(x), A [r, in] Kaiming-uniform,
// B [out, r] zeros, scale = alpha / r (alpha / sqrt(r) with rsLoRA, Kalajdzievski 2023), dropout on
// the LoRA path only. Linear::add_lora adapts one layer; apply_lora adapts every target in a model.
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace qforge::layers {

class Module;

/// Hyper-parameters of one adapter, named as PEFT's LoraConfig (r, lora_alpha, lora_dropout,
/// use_rslora).
struct LoraOptions {
  int64_t rank = 8;      ///< r: inner width of B A
  double alpha = 16;     ///< lora_alpha
  double dropout = 0;    ///< lora_dropout, in [0, 1); applied to the adapter's input in training mode
  bool rslora = false;   ///< use_rslora: scale alpha / sqrt(r) instead of alpha / r
  uint64_t seed = 0;     ///< seeds A's initialisation and the dropout masks

  /// alpha / r, or alpha / sqrt(r) with rslora.
  double scale() const;
  /// Throws std::invalid_argument naming the bad field (rank <= 0, dropout outside [0, 1)).
  void validate() const;
};

/// Adds a LoRA adapter to every Linear below `root` whose dotted path (as named_modules() spells
/// it) has a last component equal to one of `targets` ("q_proj", ...), or matches one of them as a
/// glob (layers/module.h glob_match) on the whole path ("model.layers.1.*_proj"). The
/// adapters' own lora_A/lora_B Linears are never adapted. Each adapter's seed is derived from
/// options.seed and its path, so adapters differ and do not depend on which others exist.
/// Returns the adapted paths in module order. Throws std::invalid_argument naming the targets when
/// nothing matched, and std::logic_error when a matched Linear already has an adapter.
std::vector<std::string> apply_lora(Module& root, const std::vector<std::string>& targets, const LoraOptions& options);

/// The one LoRA merge: weight += scale · B A in FP32, for weight [out, in], A [r, in], B [out, r] (Hu et
/// al. 2021 §4.1: W' = W + B A, deployed without extra latency). Each row of B A is summed over r in
/// ascending order, then added once, so the result does not depend on threads or GEMM blocking.
/// Linear::merge_lora and exporters/lora/apply_lora.h (an adapter file on a loaded model, as llama.cpp
/// applies it) both call it. std::invalid_argument naming `name` when the shapes disagree.
void add_lora_product(autograd::Tensor& weight, const autograd::Tensor& a, const autograd::Tensor& b, float scale,
                      const std::string& name);

}  // namespace qforge::layers
