#include "data/token_windows.h"

#include <cmath>
#include <stdexcept>
#include <vector>

namespace qforge::data {

using autograd::IndexTensor;
using autograd::Shape;

TokenSplit split_tokens(const TokenIds& tokens, double train_fraction) {
  if (!(train_fraction > 0.0 && train_fraction < 1.0)) {
    throw std::invalid_argument("split_tokens: train_fraction must be in (0, 1), got " +
                                std::to_string(train_fraction));
  }
  const auto cut = static_cast<size_t>(std::floor(train_fraction * static_cast<double>(tokens.size())));
  const auto middle = tokens.begin() + static_cast<std::ptrdiff_t>(cut);
  return {TokenIds(tokens.begin(), middle), TokenIds(middle, tokens.end())};
}

WindowSampler::WindowSampler(TokenIds tokens, int64_t context, int64_t batch_size, uint64_t seed,
                             std::string source)
    : tokens_(std::make_shared<const TokenIds>(std::move(tokens))),
      context_(context),
      batch_size_(batch_size),
      rng_(seed) {
  if (context <= 0 || batch_size <= 0) {
    throw std::invalid_argument("WindowSampler: " + source + ": context and batch_size must be > 0, got " +
                                std::to_string(context) + " and " + std::to_string(batch_size));
  }
  if (num_tokens() < context + 1) {
    throw std::runtime_error("WindowSampler: " + source + " holds " + std::to_string(num_tokens()) +
                             " tokens, too short for context length " + std::to_string(context) + " (needs " +
                             std::to_string(context + 1) + ")");
  }
}

WindowBatch WindowSampler::next() { return draw(rng_); }

WindowBatch WindowSampler::fixed_batch(uint64_t seed, uint64_t stream) const {
  Rng rng(seed, stream);
  return draw(rng);
}

WindowBatch WindowSampler::draw(Rng& rng) const {
  const auto starts = static_cast<uint64_t>(num_tokens() - context_);  // s in [0, n - t - 1]
  const size_t count = static_cast<size_t>(batch_size_ * context_);
  std::vector<int64_t> inputs(count), targets(count);
  const TokenIds& tokens = *tokens_;
  for (int64_t row = 0; row < batch_size_; ++row) {
    const auto start = static_cast<size_t>(rng.uniform_below(starts));
    int64_t* in = inputs.data() + row * context_;
    int64_t* out = targets.data() + row * context_;
    for (int64_t k = 0; k < context_; ++k) {
      in[k] = tokens[start + static_cast<size_t>(k)];
      out[k] = tokens[start + static_cast<size_t>(k) + 1];
    }
  }
  const Shape shape{batch_size_, context_};
  return {IndexTensor(shape, std::move(inputs)), IndexTensor(shape, std::move(targets))};
}

}  // namespace qforge::data
