// Digests for S3 requests, computed with OpenSSL: SHA-256 (the SigV4 payload
// hash and signing), HMAC-SHA256 (the signing key chain) and MD5 (Content-MD5
// and ETags), plus the hex and base64 encodings S3 expects.
//
// Thread-safety: the free functions are thread-safe; a Hasher is used by one
// thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shardlake::s3 {

// Lower-case hex of `bytes` ("\x01\xab" -> "01ab").
std::string HexEncode(std::string_view bytes);

// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);

// Raw 32-byte SHA-256 of `data`, and its lower-case hex.
std::string Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);

// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);

// Raw 16-byte MD5 of `data`.
std::string Md5(std::string_view data);

// An incremental digest (SHA-256 or MD5) over data fed in pieces.
class Hasher {
 public:
  enum class Kind { kSha256, kMd5 };
  explicit Hasher(Kind kind);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Update(std::string_view data);
  // Forgets the data fed so far: the hasher starts over.
  void Reset();
  // The raw digest; afterwards the hasher may only be Reset() or destroyed.
  std::string Finish();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// The hex SHA-256 and the raw MD5 of `length` bytes of the open file `fd`
// starting at `offset` (read with pread, so the file position is untouched),
// in one pass; a digest not wanted is left empty.
// Errors: the errno of a failed read; DataLoss if the file ends early.
struct FileDigests {
  std::string sha256_hex;
  std::string md5;
};
absl::StatusOr<FileDigests> DigestFileRange(int fd, int64_t offset, int64_t length,
                                            bool want_sha256, bool want_md5);

}  // namespace shardlake::s3
