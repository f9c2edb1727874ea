#include "storage/md5_lanes.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace shardlake::s3 {
namespace {

// RFC 1321: T[i] = floor(2^32 * |sin(i + 1)|).
const std::array<uint32_t, 64> kSineTable = [] {
  std::array<uint32_t, 64> table{};
  for (int i = 0; i < 64; ++i) {
    table[static_cast<size_t>(i)] =
        static_cast<uint32_t>(std::floor(std::fabs(std::sin(i + 1.0)) * 4294967296.0));
  }
  return table;
}();

// Rotation of each round's four steps, and the message word of step i.
constexpr int kShifts[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
constexpr int WordIndex(int step) {
  switch (step / 16) {
    case 0:
      return step;
    case 1:
      return (5 * step + 1) % 16;
    case 2:
      return (3 * step + 5) % 16;
    default:
      return (7 * step) % 16;
  }
}

[[maybe_unused]] uint32_t LoadLittleEndian(const unsigned char* bytes) {
  uint32_t word;
  std::memcpy(&word, bytes, sizeof(word));
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap32(word);
  return word;
}

using Vector4 = uint32_t __attribute__((vector_size(16)));
using Vector8 = uint32_t __attribute__((vector_size(32)));

// Words 4 * group .. 4 * group + 3 of lanes 0..3 of `blocks`, transposed:
// out[w] holds word 4 * group + w of every lane (a 4x4 transpose in
// registers, instead of 16 scalar loads and stores).
inline void LoadWords(const unsigned char* const* blocks, int group, Vector4 out[4]) {
  Vector4 rows[4];
  for (int lane = 0; lane < 4; ++lane) std::memcpy(&rows[lane], blocks[lane] + 16 * group, 16);
  const Vector4 low01 = __builtin_shufflevector(rows[0], rows[1], 0, 4, 1, 5);
  const Vector4 low23 = __builtin_shufflevector(rows[2], rows[3], 0, 4, 1, 5);
  const Vector4 high01 = __builtin_shufflevector(rows[0], rows[1], 2, 6, 3, 7);
  const Vector4 high23 = __builtin_shufflevector(rows[2], rows[3], 2, 6, 3, 7);
  out[0] = __builtin_shufflevector(low01, low23, 0, 1, 4, 5);
  out[1] = __builtin_shufflevector(low01, low23, 2, 3, 6, 7);
  out[2] = __builtin_shufflevector(high01, high23, 0, 1, 4, 5);
  out[3] = __builtin_shufflevector(high01, high23, 2, 3, 6, 7);
}

// The same for eight lanes: lanes i and i + 4 share a 256-bit row, and the
// 4x4 transpose runs in both 128-bit halves at once.
inline void LoadWords(const unsigned char* const* blocks, int group, Vector8 out[4]) {
  Vector8 rows[4];
  for (int lane = 0; lane < 4; ++lane) {
    Vector4 low;
    Vector4 high;
    std::memcpy(&low, blocks[lane] + 16 * group, 16);
    std::memcpy(&high, blocks[lane + 4] + 16 * group, 16);
    rows[lane] = __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7);
  }
  const Vector8 low01 = __builtin_shufflevector(rows[0], rows[1], 0, 8, 1, 9, 4, 12, 5, 13);
  const Vector8 low23 = __builtin_shufflevector(rows[2], rows[3], 0, 8, 1, 9, 4, 12, 5, 13);
  const Vector8 high01 = __builtin_shufflevector(rows[0], rows[1], 2, 10, 3, 11, 6, 14, 7, 15);
  const Vector8 high23 = __builtin_shufflevector(rows[2], rows[3], 2, 10, 3, 11, 6, 14, 7, 15);
  out[0] = __builtin_shufflevector(low01, low23, 0, 1, 8, 9, 4, 5, 12, 13);
  out[1] = __builtin_shufflevector(low01, low23, 2, 3, 10, 11, 6, 7, 14, 15);
  out[2] = __builtin_shufflevector(high01, high23, 0, 1, 8, 9, 4, 5, 12, 13);
  out[3] = __builtin_shufflevector(high01, high23, 2, 3, 10, 11, 6, 7, 14, 15);
}

// One 64-byte block per lane of `V` (lanes [0, sizeof(V) / 4) of `state`),
// compressed side by side; a null block leaves its lane's state as it was.
template <typename V>
[[gnu::always_inline]] inline void CompressLanes(uint32_t state[4][Md5Lanes::kMaxStreams],
                                                 const unsigned char* const* given_blocks) {
  constexpr int kLanes = static_cast<int>(sizeof(V) / sizeof(uint32_t));
  static constexpr unsigned char kNoBlock[64] = {};
  const unsigned char* blocks[kLanes];
  V active{};
  for (int lane = 0; lane < kLanes; ++lane) {
    blocks[lane] = given_blocks[lane] != nullptr ? given_blocks[lane] : kNoBlock;
    active[lane] = given_blocks[lane] != nullptr ? ~0u : 0u;
  }
  V words[16];
  if constexpr (std::endian::native == std::endian::little) {
    for (int group = 0; group < 4; ++group) LoadWords(blocks, group, &words[4 * group]);
  } else {
    for (int lane = 0; lane < kLanes; ++lane) {
      for (int word = 0; word < 16; ++word) {
        words[word][lane] = LoadLittleEndian(blocks[lane] + 4 * word);
      }
    }
  }
  V registers[4];
  for (int i = 0; i < 4; ++i) std::memcpy(&registers[i], state[i], sizeof(V));
  V a = registers[0];
  V b = registers[1];
  V c = registers[2];
  V d = registers[3];
  // One step: a = b + rotl(a + f(b, c, d) + word + T, shift), then the
  // registers rotate (a <- d <- c <- b <- new). b is the value just computed,
  // so each step waits for the one before: the sums are grouped, and the
  // functions written, so that as little as possible depends on b.
#pragma GCC unroll 64
  for (int step = 0; step < 64; ++step) {
    const V early = a + (words[WordIndex(step)] + kSineTable[static_cast<size_t>(step)]);
    V f;
    switch (step / 16) {
      case 0:
        f = d ^ (b & (c ^ d));
        break;
      case 1:
        f = (b & d) | (c & ~d);
        break;
      case 2:
        f = b ^ (c ^ d);
        break;
      default:
        f = c ^ (b | ~d);
        break;
    }
    const int shift = kShifts[step / 16][step % 4];
    const V sum = early + f;
    const V rotated = (sum << shift) | (sum >> (32 - shift));
    a = d;
    d = c;
    c = b;
    b = b + rotated;
  }
  registers[0] += a & active;
  registers[1] += b & active;
  registers[2] += c & active;
  registers[3] += d & active;
  for (int i = 0; i < 4; ++i) std::memcpy(state[i], &registers[i], sizeof(V));
}

void Compress4(uint32_t state[4][Md5Lanes::kMaxStreams], const unsigned char* const* blocks) {
  CompressLanes<Vector4>(state, blocks);
}

// Without AVX2 each 256-bit operation becomes two 128-bit ones: two chains of
// four lanes that the core runs interleaved.
void Compress8(uint32_t state[4][Md5Lanes::kMaxStreams], const unsigned char* const* blocks) {
  CompressLanes<Vector8>(state, blocks);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void Compress8Avx2(uint32_t state[4][Md5Lanes::kMaxStreams],
                                                   const unsigned char* const* blocks) {
  CompressLanes<Vector8>(state, blocks);
}

bool HasAvx2() {
  static const bool has_avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has_avx2;
}
#endif

}  // namespace

Md5Lanes::Md5Lanes(int streams, bool allow_avx2) : streams_(streams), use_avx2_(false) {
  if (streams < 1 || streams > kMaxStreams) std::abort();  // a caller's bug, not an input error
  constexpr uint32_t kInitial[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  for (int i = 0; i < 4; ++i) {
    for (int lane = 0; lane < kMaxStreams; ++lane) state_[i][lane] = kInitial[i];
  }
#if defined(__x86_64__)
  use_avx2_ = allow_avx2 && HasAvx2();
#else
  (void)allow_avx2;
#endif
}

void Md5Lanes::Compress(const unsigned char* const blocks[kMaxStreams]) {
  if (streams_ <= 4) {
    Compress4(state_, blocks);
    return;
  }
#if defined(__x86_64__)
  if (use_avx2_) {
    Compress8Avx2(state_, blocks);
    return;
  }
#endif
  Compress8(state_, blocks);
}

void Md5Lanes::Update(std::span<const std::string_view> pieces) {
  const unsigned char* next[kMaxStreams] = {};
  size_t left[kMaxStreams] = {};
  for (int lane = 0; lane < streams_; ++lane) {
    next[lane] = reinterpret_cast<const unsigned char*>(pieces[static_cast<size_t>(lane)].data());
    left[lane] = pieces[static_cast<size_t>(lane)].size();
    bytes_[lane] += left[lane];
  }
  while (true) {
    // Each lane's next whole block: its pending bytes topped up, else
    // straight from the piece; what is left over waits in pending_.
    const unsigned char* blocks[kMaxStreams] = {};
    bool any = false;
    for (int lane = 0; lane < streams_; ++lane) {
      if (pending_size_[lane] > 0) {
        size_t take = std::min(left[lane], 64 - pending_size_[lane]);
        std::memcpy(pending_[lane] + pending_size_[lane], next[lane], take);
        pending_size_[lane] += take;
        next[lane] += take;
        left[lane] -= take;
        if (pending_size_[lane] == 64) blocks[lane] = pending_[lane];
      } else if (left[lane] >= 64) {
        blocks[lane] = next[lane];
        next[lane] += 64;
        left[lane] -= 64;
      } else if (left[lane] > 0) {
        std::memcpy(pending_[lane], next[lane], left[lane]);
        pending_size_[lane] = left[lane];
        left[lane] = 0;
      }
      any = any || blocks[lane] != nullptr;
    }
    if (!any) return;
    Compress(blocks);
    for (int lane = 0; lane < streams_; ++lane) {
      if (blocks[lane] == pending_[lane]) pending_size_[lane] = 0;
    }
  }
}

std::vector<std::string> Md5Lanes::Finish() {
  // Each stream's tail: its pending bytes, 0x80, zeros up to 56 mod 64 and
  // the length in bits (little-endian): one block or two.
  unsigned char tails[kMaxStreams][128] = {};
  size_t tail_blocks[kMaxStreams] = {};
  for (int lane = 0; lane < streams_; ++lane) {
    const size_t pending = pending_size_[lane];
    std::memcpy(tails[lane], pending_[lane], pending);
    tails[lane][pending] = 0x80;
    tail_blocks[lane] = pending < 56 ? 1 : 2;
    const uint64_t bits = bytes_[lane] * 8;
    for (int i = 0; i < 8; ++i) {
      tails[lane][tail_blocks[lane] * 64 - 8 + static_cast<size_t>(i)] =
          static_cast<unsigned char>(bits >> (8 * i));
    }
  }
  for (size_t block = 0; block < 2; ++block) {
    const unsigned char* blocks[kMaxStreams] = {};
    bool any = false;
    for (int lane = 0; lane < streams_; ++lane) {
      if (block < tail_blocks[lane]) blocks[lane] = tails[lane] + 64 * block;
      any = any || blocks[lane] != nullptr;
    }
    if (any) Compress(blocks);
  }
  std::vector<std::string> digests;
  for (int lane = 0; lane < streams_; ++lane) {
    std::string digest(16, '\0');
    for (int word = 0; word < 4; ++word) {
      const uint32_t value = state_[word][lane];
      for (int i = 0; i < 4; ++i) {
        digest[static_cast<size_t>(4 * word + i)] = static_cast<char>(value >> (8 * i));
      }
    }
    digests.push_back(std::move(digest));
  }
  return digests;
}

}  // namespace shardlake::s3
