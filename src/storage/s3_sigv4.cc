#include "storage/s3_sigv4.h"

#include <algorithm>
#include <ctime>

#include "fmt/format.h"
#include "storage/digest.h"

namespace shardlake::s3 {
namespace {

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Trims the value and collapses runs of spaces into one, as SigV4 requires.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string UriEncode(std::string_view text, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (c == '/' && !encode_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, true), UriEncode(value, true));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

CanonicalRequest MakeCanonicalRequest(const SigningInput& input) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(input.headers.size());
  for (const auto& [name, value] : input.headers) {
    headers.emplace_back(ToLower(name), CanonicalHeaderValue(value));
  }
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers;
  std::string signed_headers;
  for (size_t i = 0; i < headers.size(); ++i) {
    // Repeated headers are joined with ',' in one line.
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.back() = ',';
      canonical_headers += headers[i].second + "\n";
      continue;
    }
    canonical_headers += headers[i].first + ":" + headers[i].second + "\n";
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += headers[i].first;
  }
  CanonicalRequest result;
  result.text = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", input.method, input.canonical_uri,
                            CanonicalQueryString(input.query), canonical_headers, signed_headers,
                            input.payload_hash);
  result.signed_headers = std::move(signed_headers);
  return result;
}

std::string CredentialScope(std::string_view amz_date, std::string_view region) {
  return fmt::format("{}/{}/s3/aws4_request", amz_date.substr(0, 8), region);
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  return fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", amz_date, scope, Sha256Hex(canonical_request));
}

std::string SigningKey(std::string_view secret_access_key, std::string_view date,
                       std::string_view region) {
  std::string key = HmacSha256("AWS4" + std::string(secret_access_key), date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, "s3");
  return HmacSha256(key, "aws4_request");
}

std::string AmzDate(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

std::string Sign(SigningInput* input, const Credentials& credentials, std::string_view region,
                 std::string_view amz_date) {
  input->headers.emplace_back("x-amz-date", std::string(amz_date));
  input->headers.emplace_back("x-amz-content-sha256", input->payload_hash);
  if (!credentials.session_token.empty()) {
    input->headers.emplace_back("x-amz-security-token", credentials.session_token);
  }
  CanonicalRequest canonical = MakeCanonicalRequest(*input);
  std::string scope = CredentialScope(amz_date, region);
  std::string signature =
      HexEncode(HmacSha256(SigningKey(credentials.secret_access_key, amz_date.substr(0, 8), region),
                           StringToSign(amz_date, scope, canonical.text)));
  return fmt::format("AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={},Signature={}",
                     credentials.access_key_id, scope, canonical.signed_headers, signature);
}

}  // namespace shardlake::s3
