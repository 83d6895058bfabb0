#pragma once
// Differentiable ops on Variables. Each op lives in ops/op_<name>.cpp with its forward and its
// backward side by side. Binary arithmetic broadcasts like numpy. Axes may be negative.
// Shape errors throw std::invalid_argument naming the op and the shapes involved.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "autograd/packed_weight.h"
#include "autograd/variable.h"

namespace qforge::autograd {

// ---- arithmetic (numpy broadcasting) ----
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable add_scalar(const Variable& x, float s);
Variable mul_scalar(const Variable& x, float s);
Variable neg(const Variable& x);
Variable pow(const Variable& x, float exponent);

inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
inline Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
inline Variable operator-(const Variable& x) { return neg(x); }
inline Variable operator+(const Variable& x, float s) { return add_scalar(x, s); }
inline Variable operator+(float s, const Variable& x) { return add_scalar(x, s); }
inline Variable operator-(const Variable& x, float s) { return add_scalar(x, -s); }
inline Variable operator-(float s, const Variable& x) { return add_scalar(neg(x), s); }
inline Variable operator*(const Variable& x, float s) { return mul_scalar(x, s); }
inline Variable operator*(float s, const Variable& x) { return mul_scalar(x, s); }
inline Variable operator/(const Variable& x, float s) { return mul_scalar(x, 1.0f / s); }

// ---- matrix products ----
// a [..., m, k] times b [..., k, n] (each transposed first when its flag is set). Batch dims
// broadcast; a 2-D b is shared by every batch of a (the Linear case folds into one GEMM).
Variable matmul(const Variable& a, const Variable& b, bool transpose_a = false, bool transpose_b = false);
// x [..., in] times the frozen packed W [out, in] transposed: [..., out]. W is dequantized tile by
// tile and never materialised whole; the gradient flows to x only (dx = dy W), W is frozen.
Variable packed_matmul(const Variable& x, const PackedWeightPtr& weight);

// ---- reductions ----
Variable sum(const Variable& x);  // all elements, 0-d result
Variable sum(const Variable& x, const std::vector<int>& axes, bool keepdim = false);
Variable mean(const Variable& x);
Variable mean(const Variable& x, const std::vector<int>& axes, bool keepdim = false);
// Maximum along one axis; the gradient flows to the first maximal element.
Variable max(const Variable& x, int axis, bool keepdim = false);

// ---- shape ----
Variable reshape(const Variable& x, const std::vector<int64_t>& dims);  // one dim may be -1
Variable transpose(const Variable& x, int axis0, int axis1);
Variable permute(const Variable& x, const std::vector<int>& order);
// Elements [start, end) along axis; negative start/end count from the end, as in Python.
Variable slice(const Variable& x, int axis, int64_t start, int64_t end);
Variable concat(const std::vector<Variable>& xs, int axis);
// torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for axis 1; index has x's rank.
Variable gather(const Variable& x, int axis, const IndexTensor& index);
// Rows of weight [vocab, dim] picked by ids of any shape: result [ids..., dim].
Variable embedding(const Variable& weight, const IndexTensor& ids);

// ---- elementwise functions ----
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable sqrt(const Variable& x);
Variable rsqrt(const Variable& x);
Variable tanh(const Variable& x);
Variable sigmoid(const Variable& x);
Variable relu(const Variable& x);
enum class GeluApproximation { kErf, kTanh };
Variable gelu(const Variable& x, GeluApproximation approximation = GeluApproximation::kErf);
Variable silu(const Variable& x);

// ---- normalisation and losses ----
Variable softmax(const Variable& x, int axis = -1);
Variable log_softmax(const Variable& x, int axis = -1);
// logits [n, classes], targets [n]; mean over the targets that are not ignore_index.
Variable cross_entropy(const Variable& logits, const IndexTensor& targets, int64_t ignore_index = -100);
Variable mse_loss(const Variable& prediction, const Variable& target);  // mean squared error
// x / sqrt(mean(x^2, last axis) + eps) * weight   (Zhang & Sennrich 2019; Llama's RMSNorm)
Variable rms_norm(const Variable& x, const Variable& weight, float eps = 1e-6f);
// (x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance, as PyTorch)
Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, float eps = 1e-5f);

// ---- transformer blocks ----
// Rotary position embedding (Su et al. 2021) on x [batch, heads, seq, head_dim] in Hugging Face
// Llama's rotate-half layout: pairs are (i, i + head_dim/2), frequency theta^(-2i/head_dim),
// position = position_offset + t.
Variable rope(const Variable& x, float theta = 10000.0f, int64_t position_offset = 0);
// The same with the frequencies given (inv_freq[i] replaces theta^(-2i/head_dim); head_dim/2 of them):
// scaled rotary embeddings (linear position interpolation, Llama 3's rope_scaling; layers/rope_frequencies.h).
Variable rope(const Variable& x, std::span<const double> inv_freq, int64_t position_offset = 0);
// softmax(q k^T * scale + causal mask) v with q [b, heads, t, d], k and v [b, kv_heads, t, d];
// heads must be a multiple of kv_heads (grouped-query attention). scale <= 0 means 1/sqrt(d).
Variable causal_attention(const Variable& q, const Variable& k, const Variable& v, float scale = 0.0f);
// Zeroes each element with probability p and scales the rest by 1/(1-p); the mask is a pure
// function of (seed, element index), so it does not depend on the thread count. Identity when
// !training or p == 0.
Variable dropout(const Variable& x, float p, uint64_t seed, bool training = true);
// Data-parallel training (trainers/data_parallel.h): this process holds rows [first_row, ...) along dim 0
// of each global batch, so dropout hashes element i of x at the global index i + first_row * (row size):
// every rank drops exactly what one process with the whole batch drops. 0 (the default): not sharded.
void set_dropout_first_row(int64_t first_row);

// ---- activation checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost") ----
// fn(x) whose intermediate activations are not kept: the forward runs fn under NoGradGuard and
// keeps only x; backward recomputes fn with grad mode on from a fresh leaf copy of x, propagates
// the incoming gradient through the recomputed graph (parameters used inside fn receive their
// gradients there) and hands the leaf's gradient on to x. Without grad mode it is just fn(x).
// fn must compute the same function twice: random draws inside it go through
// checkpoint_replayable_seed so that the recompute sees the forward's seeds.
Variable checkpoint(const std::function<Variable(const Variable&)>& fn, const Variable& x);
// The seed source of stateful random layers (layers::Dropout). Outside a checkpoint it returns
// draw(). In a checkpoint's forward it returns draw() and records the value; in the recompute it
// returns the recorded values in order without calling draw, so masks repeat and the layer's own
// seed state advances once per step, as without checkpointing. Nested checkpoints are handled.
uint64_t checkpoint_replayable_seed(const std::function<uint64_t()>& draw);
// True while a checkpoint's backward recomputes fn (on this thread). Stateful layers whose forward
// updates running statistics (QAT observers, their step counters) must update them once per step,
// in the forward, and leave them alone in the recompute, which then quantizes with the scales the
// forward computed: the same values and gradients as without checkpointing.
bool checkpoint_recomputing();

// ---- convolution and pooling ----
// Cross-correlation as torch.nn.functional.conv2d on NCHW: x [n, c_in, h, w], weight
// [c_out, c_in, kh, kw], bias [c_out] or undefined (Variable()) for none; result
// [n, c_out, (h + 2*padding - kh) / stride + 1, (w + 2*padding - kw) / stride + 1].
Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias, int64_t stride = 1,
                int64_t padding = 0);
// Pooling over kernel x kernel windows of x [n, c, h, w], no padding, windows that do not fit are
// dropped (ceil_mode false); stride 0 means stride = kernel. max_pool2d sends the gradient to the
// first maximal element of each window.
Variable max_pool2d(const Variable& x, int64_t kernel, int64_t stride = 0);
Variable avg_pool2d(const Variable& x, int64_t kernel, int64_t stride = 0);

}  // namespace qforge::autograd
