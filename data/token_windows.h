#pragma once
// Language-model batches: random windows of a token stream, as nanoGPT's get_batch draws them.
// A window at start s gives inputs tokens[s .. s+t) and targets tokens[s+1 .. s+t+1), so the
// target at each position is the next token.
#include <cstdint>
#include <memory>
#include <string>

#include "autograd/tensor.h"
#include "data/rng.h"
#include "data/tokenizer.h"

namespace qforge::data {

struct TokenSplit {
  TokenIds train;
  TokenIds validation;
};

// The first floor(fraction * n) tokens train, the rest validate (nanoGPT's 90/10 split of
// shakespeare_char). Throws std::invalid_argument unless 0 < train_fraction < 1.
TokenSplit split_tokens(const TokenIds& tokens, double train_fraction = 0.9);

struct WindowBatch {
  autograd::IndexTensor inputs;   // [batch, context]
  autograd::IndexTensor targets;  // [batch, context], inputs shifted left by one token
};

class WindowSampler {
 public:
  // `source` names the tokens in errors (a file path, "fortunes train split"...). Throws
  // std::runtime_error when the stream has fewer than context + 1 tokens.
  WindowSampler(TokenIds tokens, int64_t context, int64_t batch_size, uint64_t seed,
                std::string source = "token stream");

  // Starts drawn uniformly from [0, n - context - 1], one generator draw per row.
  WindowBatch next();
  // A batch drawn the same way from its own generator Rng(seed, stream), leaving this sampler's
  // position alone: the same windows on every call (calibration sets that methods run repeatedly).
  WindowBatch fixed_batch(uint64_t seed, uint64_t stream) const;

  // The generator state after the batches drawn so far; set_state(state()) on a sampler over
  // the same tokens continues with bit-identical batches.
  RngState state() const { return rng_.state(); }
  void set_state(RngState state) { rng_ = Rng::from_state(state); }

  int64_t num_tokens() const { return static_cast<int64_t>(tokens_->size()); }
  int64_t context() const { return context_; }
  int64_t batch_size() const { return batch_size_; }

 private:
  WindowBatch draw(Rng& rng) const;

  std::shared_ptr<const TokenIds> tokens_;
  int64_t context_;
  int64_t batch_size_;
  Rng rng_;
};

}  // namespace qforge::data
