// AWS Signature Version 4 for S3 requests (header-based authentication):
// the canonical request, the string to sign, the signing key chain and the
// Authorization header. Pure functions over strings; no I/O.
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shardlake::s3 {

// The access key pair, and the session token of temporary credentials.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

// The x-amz-content-sha256 value for a payload that is not hashed.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// Percent-encodes `text` the SigV4 way: A-Z a-z 0-9 '-' '.' '_' '~' stay,
// every other byte becomes %XX (upper-case hex); '/' stays unless
// `encode_slash`. Object key paths use encode_slash=false, query names and
// values encode_slash=true.
std::string UriEncode(std::string_view text, bool encode_slash);

// What is signed: the request as it will be sent.
struct SigningInput {
  std::string method;         // "GET", "PUT", ...
  std::string canonical_uri;  // the path, already UriEncode'd ("/bucket/a%20b")
  // Query parameters, not encoded; a parameter without value has "".
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to sign, names in any case; must include "host" as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  // Hex SHA-256 of the body, or kUnsignedPayload.
  std::string payload_hash;
};

// "name=value&..." with names and values encoded and sorted by name.
std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query);

struct CanonicalRequest {
  std::string text;            // the canonical request
  std::string signed_headers;  // "host;range;x-amz-content-sha256;x-amz-date"
};
// The canonical request of `input` (its headers taken as given).
CanonicalRequest MakeCanonicalRequest(const SigningInput& input);

// "<date>/<region>/s3/aws4_request" for `amz_date` ("20130524T000000Z").
std::string CredentialScope(std::string_view amz_date, std::string_view region);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>".
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// The raw signing key: HMAC chain over date, region, "s3", "aws4_request".
std::string SigningKey(std::string_view secret_access_key, std::string_view date,
                       std::string_view region);

// "YYYYMMDDTHHMMSSZ" (UTC) for `time`.
std::string AmzDate(std::chrono::system_clock::time_point time);

// Signs `input` for `region` at `amz_date`: adds the x-amz-date,
// x-amz-content-sha256 and (with a session token) x-amz-security-token
// headers to input->headers, and returns the Authorization header's value.
// The secret is used only for the HMAC chain; it is never part of the result.
std::string Sign(SigningInput* input, const Credentials& credentials, std::string_view region,
                 std::string_view amz_date);

}  // namespace shardlake::s3
