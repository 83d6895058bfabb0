#pragma once
// Causal multi-head self-attention with rotary positions and grouped-query attention, named and
// laid out as Hugging Face's LlamaAttention (q_proj, k_proj, v_proj, o_proj, no biases).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/linear.h"

namespace qforge::layers {

/// What Hugging Face variants change in the attention block (LlamaAttention with attention_bias and
/// head_dim, Qwen2Attention's q/k/v biases, rope_scaling).
struct AttentionOptions {
  int64_t head_dim = 0;               ///< 0: hidden_size / num_heads (then hidden must divide evenly)
  bool qkv_bias = false;              ///< biases on q_proj, k_proj, v_proj
  bool o_bias = false;                ///< bias on o_proj
  std::vector<double> rope_inv_freq;  ///< head_dim/2 rotary frequencies; empty: rope_theta^(-2i/head_dim)
};

/// x [b, t, hidden] -> q, k, v projections -> [b, heads, t, head_dim] -> rope on q and k ->
/// softmax(q k^T / sqrt(head_dim) + causal mask) v (kv head h serves query heads
/// h*group .. h*group+group-1, Ainslie et al. 2023) -> [b, t, hidden] -> o_proj.
/// head_dim = hidden / heads unless options.head_dim; q_proj [heads*head_dim, hidden], k_proj and v_proj
/// [kv_heads*head_dim, hidden], o_proj [hidden, heads*head_dim]; biases as options say.
class CausalSelfAttention : public UnaryModule {
 public:
  /// Throws std::invalid_argument unless hidden % heads == 0 (without options.head_dim),
  /// heads % kv_heads == 0 and head_dim is even (rope rotates pairs), and options.rope_inv_freq is
  /// empty or has head_dim/2 entries. Projection k is seeded with derive_seed(seed, k).
  /// With `factory`, projection "q_proj" is factory(path + ".q_proj", ...) (layers/linear.h).
  CausalSelfAttention(int64_t hidden_size, int64_t num_heads, int64_t num_kv_heads, float rope_theta = 10000.0f,
                      uint64_t seed = 0, const LinearFactory& factory = {}, const std::string& path = "",
                      AttentionOptions options = {});
  /// x [b, t, hidden] -> [b, t, hidden], positions 0..t-1.
  Variable forward(const Variable& x) override;
  /// Number of query heads.
  int64_t num_heads() const { return num_heads_; }
  /// Number of key/value heads.
  int64_t num_kv_heads() const { return num_kv_heads_; }
  /// Width of one head.
  int64_t head_dim() const { return head_dim_; }
  /// The query projection.
  const std::shared_ptr<Linear>& q_proj() const { return q_proj_; }
  /// The key projection.
  const std::shared_ptr<Linear>& k_proj() const { return k_proj_; }
  /// The value projection.
  const std::shared_ptr<Linear>& v_proj() const { return v_proj_; }
  /// The output projection.
  const std::shared_ptr<Linear>& o_proj() const { return o_proj_; }

 private:
  // [b, t, heads*head_dim] -> [b, heads, t, head_dim]
  Variable split_heads(const Variable& x, int64_t heads) const;

  int64_t hidden_size_, num_heads_, num_kv_heads_, head_dim_;
  float rope_theta_;
  std::vector<double> rope_inv_freq_;
  std::shared_ptr<Linear> q_proj_, k_proj_, v_proj_, o_proj_;
};

}  // namespace qforge::layers
