#pragma once
// Seeded generator for data order: xoroshiro128++ (Blackman & Vigna, "Scrambled linear
// pseudorandom number generators", 2021). Its whole state is two uint64 words, so a training
// run can save RngState beside a checkpoint and resume with bit-identical batches.
// Written out here rather than std::mt19937_64 + std::uniform_int_distribution because the
// distribution's output is implementation-defined; this one is the same on every platform.
#include <cstdint>

namespace qforge::data {

struct RngState {
  uint64_t s0 = 0;
  uint64_t s1 = 0;
  bool operator==(const RngState&) const = default;
};

class Rng {
 public:
  // State from splitmix64 over (seed, stream): distinct streams (e.g. epochs) of one seed give
  // unrelated sequences.
  explicit Rng(uint64_t seed, uint64_t stream = 0);
  static Rng from_state(RngState state);

  uint64_t next_u64();
  // Uniform integer in [0, bound), bound > 0, without modulo bias (Lemire 2019, "Fast random
  // integer generation in an interval", ACM TOMACS 29(1)).
  uint64_t uniform_below(uint64_t bound);

  RngState state() const { return state_; }

 private:
  Rng() = default;
  RngState state_;
};

}  // namespace qforge::data
