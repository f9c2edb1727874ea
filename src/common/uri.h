// Parsing of the URIs that select backends (`sqlite:///path`, `file:///dir`,
// `redis://user:pass@host:port/0`, `s3://bucket/prefix?endpoint=...`).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shardlake {

struct Uri {
  std::string scheme;    // lower-case, without "://"; never empty
  std::string userinfo;  // "user[:password]", percent-decoded; may be empty
  std::string host;      // may be empty (e.g. file:///abs/path)
  int port = 0;          // 0 when absent
  std::string path;      // percent-decoded; for file-like schemes the local path
  std::map<std::string, std::string> query;  // decoded ?k=v&... parameters

  // The URI with any password replaced by "***", for logs and errors.
  std::string Redacted() const;
  std::string original;
};

// Parses `text`. A bare path without "scheme:" is an error (InvalidArgument), so
// callers decide explicitly how to treat plain paths. `sqlite:relative/path` and
// `file:relative/dir` (no "//") keep the relative path.
absl::StatusOr<Uri> ParseUri(std::string_view text);

}  // namespace shardlake
