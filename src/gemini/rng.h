// Rng: the seeded random source of gemini. Every draw is computed here, never
// by std::*_distribution (whose results differ between standard libraries), so
// a seed gives the same schema and the same statements on every build.
//
// Thread-safety: none; every worker owns its own Rng (Derive()).
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace shardlake::gemini {

// SplitMix64 step: a good 64-bit mix, used to seed and to derive streams.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a of a label, so that streams can be named ("schema", "worker-3").
inline uint64_t HashLabel(std::string_view label) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : label) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// xoshiro256** seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& word : state_) {
      x = Mix64(x);
      word = x;
    }
  }

  // An independent stream for `label` (e.g. a worker), fixed by this seed.
  static Rng Derive(uint64_t seed, std::string_view label) {
    return Rng(Mix64(seed) ^ HashLabel(label));
  }

  uint64_t Next() {
    const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, n); n > 0. The modulo bias is below 2^-40 for the sizes
  // gemini uses, and the result is the same everywhere.
  uint64_t Below(uint64_t n) { return Next() % n; }

  // Uniform in [low, high] (inclusive); low <= high.
  int64_t Range(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(Below(static_cast<uint64_t>(high - low) + 1));
  }

  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // True with probability p.
  bool Chance(double p) { return Unit() < p; }

  // A standard normal draw (Box-Muller).
  double Normal() {
    double u1 = Unit();
    double u2 = Unit();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

}  // namespace shardlake::gemini
