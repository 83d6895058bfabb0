#include "layers/causal_self_attention.h"

#include <stdexcept>
#include <string>
#include <utility>

#include "autograd/ops.h"
#include "layers/init.h"

namespace qforge::layers {

namespace ag = autograd;

CausalSelfAttention::CausalSelfAttention(int64_t hidden_size, int64_t num_heads, int64_t num_kv_heads,
                                         float rope_theta, uint64_t seed, const LinearFactory& factory,
                                         const std::string& path, AttentionOptions options)
    : hidden_size_(hidden_size), num_heads_(num_heads), num_kv_heads_(num_kv_heads), rope_theta_(rope_theta),
      rope_inv_freq_(std::move(options.rope_inv_freq)) {
  if (hidden_size <= 0 || num_heads <= 0 || num_kv_heads <= 0 || options.head_dim < 0 ||
      (options.head_dim == 0 && hidden_size % num_heads != 0) || num_heads % num_kv_heads != 0) {
    throw std::invalid_argument("CausalSelfAttention: need hidden_size % num_heads == 0 (or a head_dim) and num_heads % "
                                "num_kv_heads == 0, got hidden_size " + std::to_string(hidden_size) + ", num_heads " +
                                std::to_string(num_heads) + ", num_kv_heads " + std::to_string(num_kv_heads) +
                                ", head_dim " + std::to_string(options.head_dim));
  }
  head_dim_ = options.head_dim > 0 ? options.head_dim : hidden_size / num_heads;
  if (head_dim_ % 2 != 0) {
    throw std::invalid_argument("CausalSelfAttention: head_dim " + std::to_string(head_dim_) +
                                " must be even for rotary embeddings");
  }
  if (!rope_inv_freq_.empty() && static_cast<int64_t>(rope_inv_freq_.size()) * 2 != head_dim_) {
    throw std::invalid_argument("CausalSelfAttention: " + std::to_string(rope_inv_freq_.size()) +
                                " rotary frequencies for head_dim " + std::to_string(head_dim_));
  }
  const int64_t q_width = num_heads * head_dim_, kv_width = num_kv_heads * head_dim_;
  const auto projection = [&](const char* name, int64_t in, int64_t out, uint64_t stream, bool bias) {
    return register_module(name, make_linear(factory, join_module_path(path, name), in, out, derive_seed(seed, stream), bias));
  };
  q_proj_ = projection("q_proj", hidden_size, q_width, 0, options.qkv_bias);
  k_proj_ = projection("k_proj", hidden_size, kv_width, 1, options.qkv_bias);
  v_proj_ = projection("v_proj", hidden_size, kv_width, 2, options.qkv_bias);
  o_proj_ = projection("o_proj", q_width, hidden_size, 3, options.o_bias);
}

Variable CausalSelfAttention::split_heads(const Variable& x, int64_t heads) const {
  return ag::permute(ag::reshape(x, {x.dim(0), x.dim(1), heads, head_dim_}), {0, 2, 1, 3});
}

Variable CausalSelfAttention::forward(const Variable& x) {
  if (x.ndim() != 3 || x.dim(2) != hidden_size_) {
    throw std::invalid_argument("CausalSelfAttention: x must be [batch, seq, " + std::to_string(hidden_size_) +
                                "], got " + x.shape().to_string());
  }
  const int64_t batch = x.dim(0), seq = x.dim(1);
  // HF applies rope after splitting heads and before repeating kv heads; the fused op does the repeat.
  const auto rotate = [&](const Variable& heads) {
    return rope_inv_freq_.empty() ? ag::rope(heads, rope_theta_) : ag::rope(heads, rope_inv_freq_);
  };
  Variable q = rotate(split_heads(q_proj_->forward(x), num_heads_));
  Variable k = rotate(split_heads(k_proj_->forward(x), num_kv_heads_));
  Variable v = split_heads(v_proj_->forward(x), num_kv_heads_);
  Variable attended = ag::causal_attention(q, k, v);  // scale 1/sqrt(head_dim)
  Variable merged = ag::reshape(ag::permute(attended, {0, 2, 1, 3}), {batch, seq, num_heads_ * head_dim_});
  return o_proj_->forward(merged);
}

}  // namespace qforge::layers
