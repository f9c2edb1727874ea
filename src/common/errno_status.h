// Status values for failed system calls: errno mapped to the absl code a
// caller should act on (NotFound, PermissionDenied, ResourceExhausted,
// FailedPrecondition, InvalidArgument, Unavailable, else Internal).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace shardlake {

// strerror-like text for `error`, thread-safe.
std::string ErrnoText(int error);

// "<context>: <strerror>" with a status code chosen from `error`.
absl::Status ErrnoStatus(int error, std::string_view context);

}  // namespace shardlake
