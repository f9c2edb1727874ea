// Salted, slow password hashes (scrypt, RFC 7914, through OpenSSL 3's
// EVP_KDF "SCRYPT") in a self-describing text form, so that the parameters can
// be raised later without invalidating stored hashes:
//
//   scrypt$<N>$<r>$<p>$<salt, base64>$<hash, base64>
//
// e.g. "scrypt$32768$8$1$<24 chars>$<44 chars>". Base64 is the standard
// alphabet with '=' padding (RFC 4648 section 4). Default parameters:
// N = 2^15, r = 8, p = 1 (32 MiB of memory and tens of milliseconds per hash,
// the interactive-login setting of RFC 7914 and OWASP's guidance), a fresh
// 16-byte salt from RAND_bytes per hash and a 32-byte derived key.
//
// Verification recomputes the key with the stored parameters and salt and
// compares it with CRYPTO_memcmp, whose run time does not depend on where the
// keys differ.
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shardlake {

struct ScryptParams {
  uint64_t n = uint64_t{1} << 15;  // CPU/memory cost: a power of two
  uint32_t r = 8;                  // block size
  uint32_t p = 1;                  // parallelism
};

// Bounds a hash must respect to be produced or verified. They keep a tampered
// or mistyped users file from demanding unbounded memory or time:
// 2^10 <= N <= 2^20, 1 <= r <= 32, 1 <= p <= 16, 128 * N * r <= 256 MiB,
// salt of 16 to 64 bytes, derived key of 16 to 64 bytes.
inline constexpr uint64_t kMaxScryptMemoryBytes = uint64_t{256} << 20;
inline constexpr size_t kPasswordSaltBytes = 16;
inline constexpr size_t kPasswordHashBytes = 32;

// OK when `params` are within the bounds above, else InvalidArgument naming
// the offending parameter.
absl::Status ValidateScryptParams(const ScryptParams& params);

// Hashes `password` with a new random salt. Errors: InvalidArgument for
// parameters out of bounds; Internal if OpenSSL fails (no randomness, no
// memory). The password never appears in a message.
absl::StatusOr<std::string> HashPassword(std::string_view password,
                                         const ScryptParams& params = ScryptParams{});

// True when `password` matches `encoded`, false when it does not. Costs one
// hash with `encoded`'s parameters either way. Errors: InvalidArgument when
// `encoded` is not a well-formed hash of a known algorithm within bounds
// (the message names the field, never the hash itself); Internal if OpenSSL
// fails.
absl::StatusOr<bool> VerifyPassword(std::string_view password, std::string_view encoded);

// The parameters of a well-formed `encoded`; InvalidArgument as for
// VerifyPassword. Costs no hashing, so use it to check a file at load time.
absl::StatusOr<ScryptParams> ParsePasswordHashParams(std::string_view encoded);

// A well-formed hash with the given parameters, a random salt and a random key
// that no password is known to match. Verifying any password against it costs
// what verifying against a real hash with `params` costs, and fails; use it to
// make "no such user" as slow as "wrong password".
absl::StatusOr<std::string> MakeDecoyPasswordHash(const ScryptParams& params);

}  // namespace shardlake
