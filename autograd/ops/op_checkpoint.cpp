// Activation checkpointing (Chen et al. 2016, §3: drop the activations of a segment in the
// forward pass and recompute them from the segment's input during backward). Memory for a chain of
// n checkpointed segments is their n inputs plus the activations of one segment at a time.
//
// Randomness: layers::Dropout draws a fresh seed per call from its own counter. The recompute must
// draw the forward's masks without advancing that counter a second time, so seeds taken through
// checkpoint_replayable_seed are recorded on a per-thread stack of frames during the forward and
// replayed from the frame during the recompute (PyTorch's checkpoint saves and restores the global
// RNG state for the same reason).
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

struct SeedFrame {
  bool replay;                                   // false: record draws, true: hand them back
  std::shared_ptr<std::vector<uint64_t>> seeds;  // shared with the checkpoint's backward
  size_t next = 0;
};

thread_local std::vector<SeedFrame> g_seed_frames;

// A frame for the lifetime of one forward or recompute of fn (popped even when fn throws).
class SeedFrameScope {
 public:
  SeedFrameScope(bool replay, std::shared_ptr<std::vector<uint64_t>> seeds) {
    g_seed_frames.push_back(SeedFrame{replay, std::move(seeds)});
  }
  ~SeedFrameScope() { g_seed_frames.pop_back(); }
  SeedFrameScope(const SeedFrameScope&) = delete;
  SeedFrameScope& operator=(const SeedFrameScope&) = delete;
};

// A recording frame takes its seed from the frame below it (so a checkpoint nested inside a
// recompute replays the outer record instead of drawing anew) and records it.
uint64_t seed_from_frame(size_t depth, const std::function<uint64_t()>& draw) {
  if (depth == 0) return draw();
  SeedFrame& frame = g_seed_frames[depth - 1];
  if (frame.replay) {
    if (frame.next >= frame.seeds->size()) {
      throw std::logic_error("checkpoint: the recompute drew more random seeds (" + std::to_string(frame.next + 1) +
                             ") than the forward (" + std::to_string(frame.seeds->size()) +
                             "); the checkpointed function must be deterministic");
    }
    return (*frame.seeds)[frame.next++];
  }
  const uint64_t seed = seed_from_frame(depth - 1, draw);
  frame.seeds->push_back(seed);
  return seed;
}

}  // namespace

uint64_t checkpoint_replayable_seed(const std::function<uint64_t()>& draw) {
  return seed_from_frame(g_seed_frames.size(), draw);
}

bool checkpoint_recomputing() {
  for (const SeedFrame& frame : g_seed_frames)
    if (frame.replay) return true;
  return false;
}

Variable checkpoint(const std::function<Variable(const Variable&)>& fn, const Variable& x) {
  if (!fn) throw std::invalid_argument("checkpoint: fn is empty");
  if (!grad_mode_enabled()) return fn(x);
  auto seeds = std::make_shared<std::vector<uint64_t>>();
  Variable y;
  {
    SeedFrameScope record(false, seeds);
    NoGradGuard no_grad;
    y = fn(x);
  }
  if (!y.defined()) throw std::invalid_argument("checkpoint: fn returned an undefined Variable");
  auto backward = [fn, seeds](std::vector<Variable>& in, const Tensor& g) {
    Variable leaf(in[0].data(), true);
    Variable recomputed;
    {
      SeedFrameScope replay(true, seeds);
      EnableGradGuard grad_mode;
      recomputed = fn(leaf);
    }
    if (recomputed.shape() != g.shape()) {
      throw std::logic_error("checkpoint: recompute gave shape " + recomputed.shape().to_string() +
                             ", the forward " + g.shape().to_string());
    }
    if (!recomputed.requires_grad()) return;  // nothing inside fn (nor x) needs a gradient
    recomputed.backward(g);
    if (in[0].requires_grad() && leaf.has_grad()) in[0].add_grad(leaf.grad());
  };
  // The graph above x may need no gradient (a frozen embedding under LoRA) while parameters inside
  // fn do: the node must be recorded anyway, so it also hangs on a one-element leaf that requires
  // grad and never receives one.
  Variable anchor(Tensor::full(Shape{}, 0.0f), true);
  return Variable(y.data(), {x, anchor}, backward, "checkpoint");
}

}  // namespace qforge::autograd
