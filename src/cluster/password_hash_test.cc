#include "cluster/password_hash.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

namespace shardlake {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The cheapest parameters within bounds, for tests that are not about cost.
constexpr ScryptParams kFastParams{uint64_t{1} << 10, 8, 1};

std::vector<std::string> Fields(const std::string& encoded) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    size_t separator = encoded.find('$', start);
    fields.push_back(encoded.substr(start, separator - start));
    if (separator == std::string::npos) return fields;
    start = separator + 1;
  }
}

std::string Join(const std::vector<std::string>& fields) {
  std::string joined;
  for (const std::string& field : fields) joined += (joined.empty() ? "" : "$") + field;
  return joined;
}

std::vector<unsigned char> DecodeBase64(const std::string& text) {
  std::vector<unsigned char> bytes(text.size() / 4 * 3);
  int length = EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(text.data()),
                               static_cast<int>(text.size()));
  EXPECT_EQ(static_cast<size_t>(length), bytes.size());
  bytes.resize(bytes.size() - (text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0));
  return bytes;
}

std::string EncodeBase64(const std::vector<unsigned char>& bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), bytes.data(),
                               static_cast<int>(bytes.size()));
  text.resize(static_cast<size_t>(length));
  return text;
}

TEST(PasswordHashTest, RightPasswordVerifiesWithDefaultParameters) {
  absl::StatusOr<std::string> encoded = HashPassword("tiger");
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_THAT(*encoded, StartsWith("scrypt$32768$8$1$"));
  absl::StatusOr<bool> verified = VerifyPassword("tiger", *encoded);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(*verified);
}

TEST(PasswordHashTest, WrongPasswordDoesNotVerify) {
  absl::StatusOr<std::string> encoded = HashPassword("tiger", kFastParams);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  for (const char* wrong : {"Tiger", "tige", "tiger ", "", "tigertiger"}) {
    absl::StatusOr<bool> verified = VerifyPassword(wrong, *encoded);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_FALSE(*verified) << "password '" << wrong << "'";
  }
}

TEST(PasswordHashTest, EncodingIsSelfDescribingWithSaltAndKeySizes) {
  absl::StatusOr<std::string> encoded = HashPassword("tiger", kFastParams);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<std::string> fields = Fields(*encoded);
  ASSERT_EQ(fields.size(), 6u) << *encoded;
  EXPECT_EQ(fields[0], "scrypt");
  EXPECT_EQ(fields[1], "1024");
  EXPECT_EQ(fields[2], "8");
  EXPECT_EQ(fields[3], "1");
  EXPECT_EQ(DecodeBase64(fields[4]).size(), kPasswordSaltBytes);
  EXPECT_EQ(DecodeBase64(fields[5]).size(), kPasswordHashBytes);
  absl::StatusOr<ScryptParams> params = ParsePasswordHashParams(*encoded);
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->n, kFastParams.n);
  EXPECT_EQ(params->r, kFastParams.r);
  EXPECT_EQ(params->p, kFastParams.p);
}

TEST(PasswordHashTest, SamePasswordTwiceGetsDifferentSaltsAndHashes) {
  absl::StatusOr<std::string> first = HashPassword("tiger", kFastParams);
  absl::StatusOr<std::string> second = HashPassword("tiger", kFastParams);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(Fields(*first)[4], Fields(*second)[4]);
  EXPECT_NE(Fields(*first)[5], Fields(*second)[5]);
  EXPECT_TRUE(*VerifyPassword("tiger", *first));
  EXPECT_TRUE(*VerifyPassword("tiger", *second));
}

TEST(PasswordHashTest, WholePasswordCountsIncludingBytesAfterNul) {
  const std::string password("ab\0cd", 5);
  absl::StatusOr<std::string> encoded = HashPassword(password, kFastParams);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_TRUE(*VerifyPassword(password, *encoded));
  EXPECT_FALSE(*VerifyPassword(std::string("ab\0ce", 5), *encoded));
  EXPECT_FALSE(*VerifyPassword("ab", *encoded));
}

// The comparison is CRYPTO_memcmp (constant time in where the keys differ);
// what a test can check is that a difference in any position, down to the
// last byte, is noticed.
TEST(PasswordHashTest, KeyDifferingInOneByteDoesNotVerify) {
  absl::StatusOr<std::string> encoded = HashPassword("tiger", kFastParams);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<std::string> fields = Fields(*encoded);
  std::vector<unsigned char> key = DecodeBase64(fields[5]);
  for (size_t position : {size_t{0}, key.size() / 2, key.size() - 1}) {
    std::vector<unsigned char> altered = key;
    altered[position] ^= 0x01;
    std::vector<std::string> altered_fields = fields;
    altered_fields[5] = EncodeBase64(altered);
    absl::StatusOr<bool> verified = VerifyPassword("tiger", Join(altered_fields));
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_FALSE(*verified) << "key altered at byte " << position;
  }
}

TEST(PasswordHashTest, ChangedParametersOrSaltDoNotVerify) {
  absl::StatusOr<std::string> encoded = HashPassword("tiger", kFastParams);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<std::string> fields = Fields(*encoded);

  std::vector<std::string> other_n = fields;
  other_n[1] = "2048";
  EXPECT_FALSE(*VerifyPassword("tiger", Join(other_n)));

  std::vector<std::string> other_salt = fields;
  std::vector<unsigned char> salt = DecodeBase64(fields[4]);
  salt.back() ^= 0x80;
  other_salt[4] = EncodeBase64(salt);
  EXPECT_FALSE(*VerifyPassword("tiger", Join(other_salt)));
}

TEST(PasswordHashTest, MalformedEncodingsAreInvalidArgument) {
  absl::StatusOr<std::string> encoded = HashPassword("tiger", kFastParams);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  const std::vector<std::string> good = Fields(*encoded);
  auto with = [&](size_t index, std::string value) {
    std::vector<std::string> fields = good;
    fields[index] = std::move(value);
    return Join(fields);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "known algorithm"},
      {"tiger", "known algorithm"},
      {"bcrypt$12$abc", "known algorithm"},
      {"scrypt", "fields"},
      {*encoded + "$extra", "fields"},
      {with(1, "1000"), "power of two"},
      {with(1, "1073741824"), "power of two"},  // 2^30: over the bound, never computed
      {with(1, ""), "decimal"},
      {with(1, "01024"), "decimal"},
      {with(1, "+1024"), "decimal"},
      {with(1, "1024 "), "decimal"},
      {with(1, "99999999999999999999999"), "decimal"},
      {with(2, "0"), "r=0"},
      {with(3, "0"), "p=0"},
      {with(4, "c2FsdA=="), "salt has 4 bytes"},
      {with(4, good[4].substr(1)), "base64"},
      {with(4, " " + good[4].substr(1)), "base64"},
      {with(5, good[5].substr(0, good[5].size() - 4) + "!!!="), "base64"},
      {with(5, ""), "base64"},
      {with(5, "AAAA"), "hash has 3 bytes"},
  };
  for (const auto& [bad, reason] : cases) {
    absl::StatusOr<bool> verified = VerifyPassword("tiger", bad);
    EXPECT_EQ(verified.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(verified.status().message(), HasSubstr(reason)) << bad;
    EXPECT_EQ(ParsePasswordHashParams(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(PasswordHashTest, MessagesNeverContainThePasswordOrHash) {
  absl::StatusOr<std::string> encoded = HashPassword("sekrit-password", kFastParams);
  ASSERT_TRUE(encoded.ok());
  std::vector<std::string> fields = Fields(*encoded);
  fields[5] += "A";  // breaks the base64 length
  absl::StatusOr<bool> verified = VerifyPassword("sekrit-password", Join(fields));
  ASSERT_FALSE(verified.ok());
  EXPECT_THAT(verified.status().message(), Not(HasSubstr("sekrit")));
  EXPECT_THAT(verified.status().message(), Not(HasSubstr(fields[4])));
}

TEST(PasswordHashTest, ParametersOutOfBoundsAreRefusedWhenHashing) {
  EXPECT_EQ(HashPassword("tiger", {512, 8, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashPassword("tiger", {3000, 8, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashPassword("tiger", {uint64_t{1} << 20, 8, 1}).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "1 GiB of memory is over the 256 MiB bound";
  EXPECT_EQ(HashPassword("tiger", {1024, 8, 17}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PasswordHashTest, DecoyHashHasTheParametersAndMatchesNothing) {
  absl::StatusOr<std::string> decoy = MakeDecoyPasswordHash(kFastParams);
  ASSERT_TRUE(decoy.ok()) << decoy.status();
  absl::StatusOr<ScryptParams> params = ParsePasswordHashParams(*decoy);
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->n, kFastParams.n);
  for (const char* password : {"", "tiger", "password"}) {
    absl::StatusOr<bool> verified = VerifyPassword(password, *decoy);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_FALSE(*verified);
  }
  EXPECT_NE(*decoy, *MakeDecoyPasswordHash(kFastParams));
}

}  // namespace
}  // namespace shardlake
