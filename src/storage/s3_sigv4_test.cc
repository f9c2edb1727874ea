// SigV4 against the examples AWS publishes for S3 header-based authentication
// (access key AKIAIOSFODNN7EXAMPLE, 2013-05-24, us-east-1, bucket
// examplebucket).
#include "storage/s3_sigv4.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "storage/digest.h"

namespace shardlake::s3 {
namespace {

constexpr char kAmzDate[] = "20130524T000000Z";
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kHost[] = "examplebucket.s3.amazonaws.com";

Credentials ExampleCredentials() {
  return Credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
}

std::string SignatureOf(const std::string& authorization) {
  size_t at = authorization.find("Signature=");
  return at == std::string::npos ? "" : authorization.substr(at + 10);
}

TEST(S3SigV4Test, DigestsMatchKnownValues) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Sha256Hex("Welcome to Amazon S3."),
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(HexEncode(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Base64Encode(Md5("")), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  Hasher pieces(Hasher::Kind::kSha256);
  pieces.Update("Welcome to ");
  pieces.Update("Amazon S3.");
  EXPECT_EQ(HexEncode(pieces.Finish()), Sha256Hex("Welcome to Amazon S3."));
}

TEST(S3SigV4Test, GetObjectExample) {
  SigningInput input{
      "GET", "/test.txt", {}, {{"Host", kHost}, {"Range", "bytes=0-9"}}, kEmptySha256};
  std::string authorization = Sign(&input, ExampleCredentials(), "us-east-1", kAmzDate);
  EXPECT_EQ(authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  // Sign added the headers that must be sent.
  EXPECT_THAT(input.headers, ::testing::Contains(std::pair<std::string, std::string>(
                                 "x-amz-content-sha256", kEmptySha256)));
  EXPECT_THAT(input.headers,
              ::testing::Contains(std::pair<std::string, std::string>("x-amz-date", kAmzDate)));
}

TEST(S3SigV4Test, PutObjectExampleStepByStep) {
  const std::string payload_hash = Sha256Hex("Welcome to Amazon S3.");
  SigningInput input{"PUT",
                     "/" + UriEncode("test$file.text", false),
                     {},
                     {{"Host", kHost},
                      {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                      {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                     payload_hash};
  EXPECT_EQ(input.canonical_uri, "/test%24file.text");
  SigningInput with_amz_headers = input;
  with_amz_headers.headers.emplace_back("x-amz-date", kAmzDate);
  with_amz_headers.headers.emplace_back("x-amz-content-sha256", payload_hash);
  CanonicalRequest canonical = MakeCanonicalRequest(with_amz_headers);
  EXPECT_EQ(canonical.text,
            "PUT\n/test%24file.text\n\n"
            "date:Fri, 24 May 2013 00:00:00 GMT\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
            "x-amz-date:20130524T000000Z\n"
            "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  std::string scope = CredentialScope(kAmzDate, "us-east-1");
  EXPECT_EQ(scope, "20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(StringToSign(kAmzDate, scope, canonical.text),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(SignatureOf(Sign(&input, ExampleCredentials(), "us-east-1", kAmzDate)),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(S3SigV4Test, GetBucketLifecycleExampleHasAValuelessParameter) {
  SigningInput input{"GET", "/", {{"lifecycle", ""}}, {{"Host", kHost}}, kEmptySha256};
  EXPECT_EQ(SignatureOf(Sign(&input, ExampleCredentials(), "us-east-1", kAmzDate)),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(S3SigV4Test, ListObjectsExampleSortsTheQuery) {
  // Given out of order: the canonical query sorts by name.
  SigningInput input{
      "GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {{"Host", kHost}}, kEmptySha256};
  SigningInput with_amz_headers = input;
  with_amz_headers.headers.emplace_back("x-amz-content-sha256", kEmptySha256);
  with_amz_headers.headers.emplace_back("x-amz-date", kAmzDate);
  EXPECT_EQ(Sha256Hex(MakeCanonicalRequest(with_amz_headers).text),
            "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
  EXPECT_EQ(SignatureOf(Sign(&input, ExampleCredentials(), "us-east-1", kAmzDate)),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(S3SigV4Test, SessionTokenIsSentAndSigned) {
  Credentials credentials = ExampleCredentials();
  credentials.session_token = "token/with+chars=";
  SigningInput input{"GET", "/test.txt", {}, {{"Host", kHost}}, kEmptySha256};
  std::string authorization = Sign(&input, credentials, "us-east-1", kAmzDate);
  EXPECT_THAT(authorization,
              ::testing::HasSubstr("SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                                   "x-amz-security-token,"));
  EXPECT_THAT(input.headers, ::testing::Contains(std::pair<std::string, std::string>(
                                 "x-amz-security-token", "token/with+chars=")));
  SigningInput without{"GET", "/test.txt", {}, {{"Host", kHost}}, kEmptySha256};
  EXPECT_NE(SignatureOf(authorization),
            SignatureOf(Sign(&without, ExampleCredentials(), "us-east-1", kAmzDate)));
}

TEST(S3SigV4Test, SecretNeverAppearsInTheAuthorization) {
  SigningInput input{"GET", "/x", {}, {{"Host", kHost}}, kEmptySha256};
  std::string authorization = Sign(&input, ExampleCredentials(), "us-east-1", kAmzDate);
  EXPECT_THAT(authorization, ::testing::Not(::testing::HasSubstr("EXAMPLEKEY")));
  for (const auto& [name, value] : input.headers) {
    EXPECT_THAT(value, ::testing::Not(::testing::HasSubstr("EXAMPLEKEY"))) << name;
  }
}

TEST(S3SigV4Test, UriEncodeFollowsTheS3Rules) {
  EXPECT_EQ(UriEncode("a b+c", false), "a%20b%2Bc");
  EXPECT_EQ(UriEncode("a/b", false), "a/b");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(UriEncode("A-z_0.9~", true), "A-z_0.9~");
  EXPECT_EQ(UriEncode("=&?#%", true), "%3D%26%3F%23%25");
  EXPECT_EQ(UriEncode("\xc3\xa9", true), "%C3%A9");
}

TEST(S3SigV4Test, HeaderValuesAreTrimmedAndSpacesCollapsed) {
  SigningInput input{"GET", "/", {}, {{"Host", kHost}, {"X-Custom", "  a   b  c "}}, kEmptySha256};
  EXPECT_THAT(MakeCanonicalRequest(input).text, ::testing::HasSubstr("\nx-custom:a b c\n"));
}

TEST(S3SigV4Test, AmzDateIsUtc) {
  // 2013-05-24T00:00:00Z.
  EXPECT_EQ(AmzDate(std::chrono::system_clock::from_time_t(1369353600)), kAmzDate);
}

}  // namespace
}  // namespace shardlake::s3
