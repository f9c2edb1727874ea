// Md5Lanes: the MD5s of up to eight byte streams at once, their 64-byte blocks
// compressed side by side in the lanes of one SIMD computation. MD5 is a
// single chain of dependent steps, so one stream keeps a core's vector units
// mostly idle; several streams together cost little more than one. Up to four
// streams use 128-bit vectors (SSE2, on every x86-64); five to eight use
// 256-bit vectors, with AVX2 instructions where the CPU has them (chosen at
// run time) and as pairs of 128-bit operations elsewhere. On the machines
// shardlake is measured on, four streams hash at about twice and eight at
// about three times the throughput of OpenSSL's MD5 per core (md5_lanes_test
// prints the figures; s3 multipart uploads hash their parts this way).
// The digests are RFC 1321 MD5s, identical to OpenSSL's.
//
// Thread-safety: an Md5Lanes is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shardlake::s3 {

class Md5Lanes {
 public:
  static constexpr int kMaxStreams = 8;

  // `streams` must be 1..kMaxStreams. With `allow_avx2` false, five to eight
  // streams use pairs of 128-bit operations even on a CPU with AVX2 (tests
  // check that path with it; the digests are the same).
  explicit Md5Lanes(int streams, bool allow_avx2 = true);

  int streams() const { return streams_; }

  // Appends pieces[i] to stream i for every stream (pieces.size() must equal
  // streams(); an empty piece appends nothing). Pieces of equal length keep
  // every lane busy; any lengths are correct.
  void Update(std::span<const std::string_view> pieces);

  // The raw 16-byte MD5 of each stream, in stream order. Afterwards the
  // object may only be destroyed.
  std::vector<std::string> Finish();

 private:
  // Compresses one 64-byte block per lane; a null block leaves its lane's
  // state as it was.
  void Compress(const unsigned char* const blocks[kMaxStreams]);

  int streams_;
  bool use_avx2_;
  uint32_t state_[4][kMaxStreams];  // MD5's a, b, c, d; lane i is stream i
  uint64_t bytes_[kMaxStreams] = {};
  unsigned char pending_[kMaxStreams][64] = {};  // a block's worth not yet compressed
  size_t pending_size_[kMaxStreams] = {};
};

}  // namespace shardlake::s3
