// Counter-based randomness for the TPC-H generator (internal to src/tpch/).
//
// Every random value is a pure function of (seed, stream, index): a stream
// names a table (or a part of one), the index a row or unit in it. Any range
// of rows can therefore be generated on its own, by any thread, in any order,
// and comes out the same; no state is carried from one row to the next.
#pragma once

#include <cstdint>

namespace shardlake::tpch {

__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang builtin; exempt from -Wpedantic

// SplitMix64's finalizer: a bijective 64-bit mix with full avalanche.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The random streams, one per independent sequence of draws. Values are part
// of the data format: changing one changes every generated table.
enum class Stream : uint64_t {
  kTextPool = 1,
  kPart = 2,
  kSupplier = 3,
  kSupplierComplaints = 4,
  kPartsupp = 5,
  kCustomer = 6,
  kOrder = 7,
  kLineitem = 8,
  kNation = 9,
  kRegion = 10,
};

// A small sequential generator for the draws of one row (SplitMix64).
class RowRandom {
 public:
  RowRandom(uint64_t seed, Stream stream, uint64_t index)
      : state_(Mix64(Mix64(seed ^ (static_cast<uint64_t>(stream) << 56)) ^ index)) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [low, high] (inclusive). REQUIRES: low <= high.
  int64_t Uniform(int64_t low, int64_t high) {
    uint64_t span = static_cast<uint64_t>(high - low) + 1;
    Uint128 product = static_cast<Uint128>(Next()) * span;
    return low + static_cast<int64_t>(product >> 64);
  }

 private:
  uint64_t state_;
};

}  // namespace shardlake::tpch
