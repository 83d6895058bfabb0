#include "data/rng.h"

#include <stdexcept>

namespace qforge::data {
namespace {

// splitmix64 (Steele, Lea & Flood 2014): the seeding routine Vigna recommends for xoroshiro.
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed, uint64_t stream) {
  uint64_t mixed_stream = stream;
  uint64_t x = seed ^ splitmix64(mixed_stream);
  state_.s0 = splitmix64(x);
  state_.s1 = splitmix64(x);
  if (state_.s0 == 0 && state_.s1 == 0) state_.s1 = 1;  // the all-zero state is a fixed point
}

Rng Rng::from_state(RngState state) {
  if (state.s0 == 0 && state.s1 == 0) {
    throw std::invalid_argument("Rng::from_state: the all-zero state is not a valid xoroshiro128++ state");
  }
  Rng rng;
  rng.state_ = state;
  return rng;
}

uint64_t Rng::next_u64() {
  const uint64_t s0 = state_.s0;
  uint64_t s1 = state_.s1;
  const uint64_t result = rotl(s0 + s1, 17) + s0;
  s1 ^= s0;
  state_.s0 = rotl(s0, 49) ^ s1 ^ (s1 << 21);
  state_.s1 = rotl(s1, 28);
  return result;
}

uint64_t Rng::uniform_below(uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("Rng::uniform_below: bound must be > 0");
  // Multiply-shift with rejection of the biased low region.
  unsigned __int128 product = static_cast<unsigned __int128>(next_u64()) * bound;
  uint64_t low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(next_u64()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

}  // namespace qforge::data
