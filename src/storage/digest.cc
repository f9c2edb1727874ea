#include "storage/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/errno_status.h"
#include "fmt/format.h"

namespace shardlake::s3 {

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xf]);
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(written));
  return out;
}

struct Hasher::Context {
  EVP_MD_CTX* ctx = nullptr;
  const EVP_MD* md = nullptr;
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(Kind kind) : context_(std::make_unique<Context>()) {
  context_->ctx = EVP_MD_CTX_new();
  context_->md = kind == Kind::kSha256 ? EVP_sha256() : EVP_md5();
  Reset();
}

void Hasher::Reset() { EVP_DigestInit_ex(context_->ctx, context_->md, nullptr); }

Hasher::~Hasher() = default;

void Hasher::Update(std::string_view data) {
  EVP_DigestUpdate(context_->ctx, data.data(), data.size());
}

std::string Hasher::Finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->ctx, digest, &length);
  return std::string(reinterpret_cast<char*>(digest), length);
}

std::string Sha256(std::string_view data) {
  Hasher hasher(Hasher::Kind::kSha256);
  hasher.Update(data);
  return hasher.Finish();
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

std::string Md5(std::string_view data) {
  Hasher hasher(Hasher::Kind::kMd5);
  hasher.Update(data);
  return hasher.Finish();
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<char*>(digest), length);
}

absl::StatusOr<FileDigests> DigestFileRange(int fd, int64_t offset, int64_t length,
                                            bool want_sha256, bool want_md5) {
  Hasher sha256(Hasher::Kind::kSha256);
  Hasher md5(Hasher::Kind::kMd5);
  std::vector<char> buffer(1 << 20);
  int64_t done = 0;
  while (done < length) {
    size_t want = static_cast<size_t>(std::min<int64_t>(length - done, buffer.size()));
    ssize_t got = ::pread(fd, buffer.data(), want, offset + done);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "reading the file to upload");
    }
    if (got == 0) {
      return absl::DataLossError(fmt::format(
          "the file to upload ended at byte {} (expected {}): was it changed during the upload?",
          offset + done, offset + length));
    }
    std::string_view piece(buffer.data(), static_cast<size_t>(got));
    if (want_sha256) sha256.Update(piece);
    if (want_md5) md5.Update(piece);
    done += got;
  }
  FileDigests digests;
  if (want_sha256) digests.sha256_hex = HexEncode(sha256.Finish());
  if (want_md5) digests.md5 = md5.Finish();
  return digests;
}

}  // namespace shardlake::s3
