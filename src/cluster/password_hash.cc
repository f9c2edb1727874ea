#include "cluster/password_hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <charconv>
#include <vector>

#include "cluster/openssl_handles.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

constexpr std::string_view kScryptAlgorithm = "scrypt";
constexpr char kFieldSeparator = '$';
constexpr size_t kEncodedFieldCount = 6;

constexpr uint64_t kMinScryptN = uint64_t{1} << 10;
constexpr uint64_t kMaxScryptN = uint64_t{1} << 20;
constexpr uint32_t kMaxScryptR = 32;
constexpr uint32_t kMaxScryptP = 16;
constexpr size_t kMinSaltBytes = 16;
constexpr size_t kMaxSaltBytes = 64;
constexpr size_t kMinHashBytes = 16;
constexpr size_t kMaxHashBytes = 64;
// Slack over scrypt's V array (128 * N * r bytes) for its B array and
// bookkeeping, so that OpenSSL's own maxmem check never trips within bounds.
constexpr uint64_t kScryptMemorySlackBytes = uint64_t{64} << 20;

// Bytes that wipe themselves when destroyed (derived keys).
class SecretBytes {
 public:
  explicit SecretBytes(size_t size) : bytes_(size) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

  unsigned char* data() { return bytes_.data(); }
  const unsigned char* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<unsigned char> bytes_;
};

struct DecodedHash {
  ScryptParams params;
  std::vector<unsigned char> salt;
  std::vector<unsigned char> hash;
};

std::string Base64Encode(const unsigned char* data, size_t size) {
  std::string text(4 * ((size + 2) / 3) + 1, '\0');
  int length =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), data, static_cast<int>(size));
  text.resize(static_cast<size_t>(length));
  return text;
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Strict RFC 4648 base64 with padding; InvalidArgument naming `field` for
// anything else (EVP_DecodeBlock alone accepts whitespace and counts padding
// as data).
absl::StatusOr<std::vector<unsigned char>> Base64Decode(std::string_view text,
                                                        std::string_view field) {
  auto malformed = [&] {
    return absl::InvalidArgumentError(
        fmt::format("malformed password hash: the {} is not valid base64", field));
  };
  if (text.empty() || text.size() % 4 != 0) return malformed();
  size_t padding = 0;
  if (text.ends_with("==")) {
    padding = 2;
  } else if (text.ends_with('=')) {
    padding = 1;
  }
  for (size_t i = 0; i < text.size() - padding; ++i) {
    if (!IsBase64Char(text[i])) return malformed();
  }
  std::vector<unsigned char> bytes(text.size() / 4 * 3);
  int length = EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(text.data()),
                               static_cast<int>(text.size()));
  if (length < 0 || static_cast<size_t>(length) != bytes.size()) return malformed();
  bytes.resize(bytes.size() - padding);
  return bytes;
}

template <typename T>
absl::StatusOr<T> ParseDecimal(std::string_view text, std::string_view field) {
  T value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      (text.size() > 1 && text.front() == '0')) {
    return absl::InvalidArgumentError(
        fmt::format("malformed password hash: scrypt parameter {} is not a decimal number", field));
  }
  return value;
}

absl::StatusOr<DecodedHash> Decode(std::string_view encoded) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    size_t separator = encoded.find(kFieldSeparator, start);
    fields.push_back(encoded.substr(start, separator - start));
    if (separator == std::string_view::npos) break;
    start = separator + 1;
  }
  if (fields.front() != kScryptAlgorithm) {
    return absl::InvalidArgumentError(
        "malformed password hash: it does not start with a known algorithm ('scrypt$')");
  }
  if (fields.size() != kEncodedFieldCount) {
    return absl::InvalidArgumentError(
        fmt::format("malformed password hash: scrypt hashes have {} '$'-separated fields "
                    "(scrypt$N$r$p$salt$hash), this one has {}",
                    kEncodedFieldCount, fields.size()));
  }
  DecodedHash decoded;
  ASSIGN_OR_RETURN(decoded.params.n, ParseDecimal<uint64_t>(fields[1], "N"));
  ASSIGN_OR_RETURN(decoded.params.r, ParseDecimal<uint32_t>(fields[2], "r"));
  ASSIGN_OR_RETURN(decoded.params.p, ParseDecimal<uint32_t>(fields[3], "p"));
  RETURN_IF_ERROR(ValidateScryptParams(decoded.params));
  ASSIGN_OR_RETURN(decoded.salt, Base64Decode(fields[4], "salt"));
  ASSIGN_OR_RETURN(decoded.hash, Base64Decode(fields[5], "hash"));
  if (decoded.salt.size() < kMinSaltBytes || decoded.salt.size() > kMaxSaltBytes) {
    return absl::InvalidArgumentError(
        fmt::format("malformed password hash: the salt has {} bytes, not {} to {}",
                    decoded.salt.size(), kMinSaltBytes, kMaxSaltBytes));
  }
  if (decoded.hash.size() < kMinHashBytes || decoded.hash.size() > kMaxHashBytes) {
    return absl::InvalidArgumentError(
        fmt::format("malformed password hash: the hash has {} bytes, not {} to {}",
                    decoded.hash.size(), kMinHashBytes, kMaxHashBytes));
  }
  return decoded;
}

std::string Encode(const ScryptParams& params, const unsigned char* salt, size_t salt_size,
                   const unsigned char* hash, size_t hash_size) {
  return fmt::format("{}${}${}${}${}${}", kScryptAlgorithm, params.n, params.r, params.p,
                     Base64Encode(salt, salt_size), Base64Encode(hash, hash_size));
}

// scrypt(password, salt, params) into `out` (its size is the key length).
absl::Status DeriveKey(std::string_view password, const ScryptParams& params,
                       const unsigned char* salt, size_t salt_size, SecretBytes& out) {
  ossl::EvpKdf kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_SCRYPT, nullptr));
  if (!kdf) return ossl::OpenSslError("cannot fetch OpenSSL's scrypt KDF");
  ossl::EvpKdfCtx context(EVP_KDF_CTX_new(kdf.get()));
  if (!context) return ossl::OpenSslError("cannot create a scrypt context");

  uint64_t n = params.n;
  uint32_t r = params.r;
  uint32_t p = params.p;
  uint64_t max_memory = kMaxScryptMemoryBytes + kScryptMemorySlackBytes;
  // OSSL_PARAM wants non-const pointers; OpenSSL only reads these buffers.
  OSSL_PARAM settings[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(password.data()),
                                        password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<unsigned char*>(salt),
                                        salt_size),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &max_memory),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_KDF_derive(context.get(), out.data(), out.size(), settings) != 1) {
    return ossl::OpenSslError(fmt::format("scrypt (N={}, r={}, p={}) failed", n, r, p));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateScryptParams(const ScryptParams& params) {
  if (params.n < kMinScryptN || params.n > kMaxScryptN || (params.n & (params.n - 1)) != 0) {
    return absl::InvalidArgumentError(
        fmt::format("scrypt parameter N={} must be a power of two from {} to {}", params.n,
                    kMinScryptN, kMaxScryptN));
  }
  if (params.r < 1 || params.r > kMaxScryptR) {
    return absl::InvalidArgumentError(
        fmt::format("scrypt parameter r={} must be from 1 to {}", params.r, kMaxScryptR));
  }
  if (params.p < 1 || params.p > kMaxScryptP) {
    return absl::InvalidArgumentError(
        fmt::format("scrypt parameter p={} must be from 1 to {}", params.p, kMaxScryptP));
  }
  if (uint64_t memory = 128 * params.n * params.r; memory > kMaxScryptMemoryBytes) {
    return absl::InvalidArgumentError(
        fmt::format("scrypt parameters N={} r={} need {} MiB, more than the {} MiB allowed",
                    params.n, params.r, memory >> 20, kMaxScryptMemoryBytes >> 20));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> HashPassword(std::string_view password, const ScryptParams& params) {
  RETURN_IF_ERROR(ValidateScryptParams(params));
  unsigned char salt[kPasswordSaltBytes];
  if (RAND_bytes(salt, sizeof(salt)) != 1) {
    return ossl::OpenSslError("cannot draw a random password salt");
  }
  SecretBytes key(kPasswordHashBytes);
  RETURN_IF_ERROR(DeriveKey(password, params, salt, sizeof(salt), key));
  return Encode(params, salt, sizeof(salt), key.data(), key.size());
}

absl::StatusOr<bool> VerifyPassword(std::string_view password, std::string_view encoded) {
  ASSIGN_OR_RETURN(DecodedHash decoded, Decode(encoded));
  SecretBytes key(decoded.hash.size());
  RETURN_IF_ERROR(
      DeriveKey(password, decoded.params, decoded.salt.data(), decoded.salt.size(), key));
  return CRYPTO_memcmp(key.data(), decoded.hash.data(), key.size()) == 0;
}

absl::StatusOr<ScryptParams> ParsePasswordHashParams(std::string_view encoded) {
  ASSIGN_OR_RETURN(DecodedHash decoded, Decode(encoded));
  return decoded.params;
}

absl::StatusOr<std::string> MakeDecoyPasswordHash(const ScryptParams& params) {
  RETURN_IF_ERROR(ValidateScryptParams(params));
  unsigned char salt_and_key[kPasswordSaltBytes + kPasswordHashBytes];
  if (RAND_bytes(salt_and_key, sizeof(salt_and_key)) != 1) {
    return ossl::OpenSslError("cannot draw random bytes for a decoy password hash");
  }
  return Encode(params, salt_and_key, kPasswordSaltBytes, salt_and_key + kPasswordSaltBytes,
                kPasswordHashBytes);
}

}  // namespace shardlake
