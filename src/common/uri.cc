#include "common/uri.h"

#include <cctype>
#include <charconv>

#include "fmt/format.h"

namespace shardlake {
namespace {

absl::StatusOr<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      return absl::InvalidArgumentError(fmt::format("bad percent-escape in URI part '{}'", in));
    }
    out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

bool ParsePort(std::string_view text, int* port) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *port);
  return ec == std::errc() && end == text.data() + text.size() && *port > 0 && *port <= 65535;
}

}  // namespace

std::string Uri::Redacted() const {
  std::string user = userinfo;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    user = user.substr(0, colon) + ":***";
  }
  std::string out = scheme + "://";
  if (!user.empty()) out += user + "@";
  out += host;
  if (port != 0) out += ":" + std::to_string(port);
  out += path;
  return out;
}

absl::StatusOr<Uri> ParseUri(std::string_view text) {
  Uri uri;
  uri.original = std::string(text);
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' is not a URI: expected scheme:// (e.g. file:///data)", text));
  }
  for (char c : text.substr(0, colon)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return absl::InvalidArgumentError(fmt::format("'{}' has an invalid URI scheme", text));
    }
  }
  uri.scheme = std::string(text.substr(0, colon));
  for (char& c : uri.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest = text.substr(colon + 1);

  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.substr(0, 2) == "//") {
    rest.remove_prefix(2);
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
      auto decoded = PercentDecode(authority.substr(0, at));
      if (!decoded.ok()) return decoded.status();
      uri.userinfo = *decoded;
      authority = authority.substr(at + 1);
    }
    std::string_view host = authority;
    if (!authority.empty() && authority.front() == '[') {  // [ipv6]:port
      auto close = authority.find(']');
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(fmt::format("'{}': unterminated [ in host", text));
      }
      host = authority.substr(1, close - 1);
      authority = authority.substr(close + 1);
      if (!authority.empty() && authority.front() == ':') {
        if (!ParsePort(authority.substr(1), &uri.port)) {
          return absl::InvalidArgumentError(fmt::format("'{}': bad port", text));
        }
      }
    } else if (auto pc = authority.rfind(':'); pc != std::string_view::npos) {
      host = authority.substr(0, pc);
      if (!ParsePort(authority.substr(pc + 1), &uri.port)) {
        return absl::InvalidArgumentError(fmt::format("'{}://{}': bad port", uri.scheme, host));
      }
    }
    uri.host = std::string(host);
  }
  auto path = PercentDecode(rest);
  if (!path.ok()) return path.status();
  uri.path = *path;
  if (!query.empty()) {
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view kv = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (kv.empty()) continue;
      size_t eq = kv.find('=');
      auto key = PercentDecode(kv.substr(0, eq));
      auto value =
          PercentDecode(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1));
      if (!key.ok()) return key.status();
      if (!value.ok()) return value.status();
      uri.query[*key] = *value;
    }
  }
  return uri;
}

}  // namespace shardlake
