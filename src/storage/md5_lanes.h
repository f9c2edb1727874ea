// Md5Lanes: the MD5s of up to four byte streams at once, their 64-byte blocks
// compressed side by side in the lanes of one SIMD computation. MD5 is a
// single chain of dependent steps, so one stream keeps a core's vector units
// mostly idle; four streams together cost little more than one. On the
// machines shardlake is measured on this is about 3x the throughput of
// OpenSSL's MD5 per core (s3 multipart uploads hash their parts this way).
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
  static constexpr int kMaxStreams = 4;

  // `streams` must be 1..kMaxStreams.
  explicit Md5Lanes(int streams);

  int streams() const { return streams_; }

  // Appends pieces[i] to stream i for every stream (pieces.size() must equal
  // streams(); an empty piece appends nothing). Pieces of equal length keep
  // every lane busy; any lengths are correct.
  void Update(std::span<const std::string_view> pieces);

  // The raw 16-byte MD5 of each stream, in stream order. Afterwards the
  // object may only be destroyed.
  std::vector<std::string> Finish();

 private:
  using Vector = uint32_t __attribute__((vector_size(16)));

  // Compresses one 64-byte block per lane; a null block leaves its lane's
  // state as it was.
  void Compress(const unsigned char* const blocks[kMaxStreams]);

  int streams_;
  Vector state_[4];  // MD5's a, b, c, d; lane i is stream i
  uint64_t bytes_[kMaxStreams] = {};
  unsigned char pending_[kMaxStreams][64] = {};  // a block's worth not yet compressed
  size_t pending_size_[kMaxStreams] = {};
};

}  // namespace shardlake::s3
