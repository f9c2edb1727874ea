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

uint32_t LoadLittleEndian(const unsigned char* bytes) {
  uint32_t word;
  std::memcpy(&word, bytes, sizeof(word));
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap32(word);
  return word;
}

}  // namespace

Md5Lanes::Md5Lanes(int streams) : streams_(streams) {
  if (streams < 1 || streams > kMaxStreams) std::abort();  // a caller's bug, not an input error
  state_[0] = Vector{} + 0x67452301u;
  state_[1] = Vector{} + 0xefcdab89u;
  state_[2] = Vector{} + 0x98badcfeu;
  state_[3] = Vector{} + 0x10325476u;
}

void Md5Lanes::Compress(const unsigned char* const blocks[kMaxStreams]) {
  static constexpr unsigned char kNoBlock[64] = {};
  Vector words[16];
  Vector active{};
  for (int lane = 0; lane < kMaxStreams; ++lane) {
    const unsigned char* block = blocks[lane] != nullptr ? blocks[lane] : kNoBlock;
    active[lane] = blocks[lane] != nullptr ? ~0u : 0u;
    for (int word = 0; word < 16; ++word) words[word][lane] = LoadLittleEndian(block + 4 * word);
  }
  Vector a = state_[0];
  Vector b = state_[1];
  Vector c = state_[2];
  Vector d = state_[3];
  // One step: a = b + rotl(a + f(b, c, d) + word + T, shift), then the
  // registers rotate (a <- d <- c <- b <- new). b is the value just computed,
  // so each step waits for the one before: the sums are grouped, and the
  // functions written, so that as little as possible depends on b.
#pragma GCC unroll 64
  for (int step = 0; step < 64; ++step) {
    const Vector early = a + (words[WordIndex(step)] + kSineTable[static_cast<size_t>(step)]);
    Vector f;
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
    const Vector sum = early + f;
    const Vector rotated = (sum << shift) | (sum >> (32 - shift));
    a = d;
    d = c;
    c = b;
    b = b + rotated;
  }
  state_[0] += a & active;
  state_[1] += b & active;
  state_[2] += c & active;
  state_[3] += d & active;
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
