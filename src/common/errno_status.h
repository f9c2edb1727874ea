// Status values for failed system calls: errno mapped to the absl code a
// caller should act on (NotFound, PermissionDenied, ResourceExhausted,
// FailedPrecondition, InvalidArgument, Unavailable, else Internal).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace shardlake {

// strerror-like text for `error`, thread-safe.
std::string ErrnoText(int error);

// "<context>: <strerror>" with a status code chosen from `error`.
absl::Status ErrnoStatus(int error, std::string_view context);

// Writes all of `data` into `fd` at `file_offset` with pwrite (fd's file
// position is neither used nor moved), retrying short and interrupted writes.
// Errors: the errno status, its message starting with `what`.
absl::Status WriteAllAt(int fd, std::string_view data, int64_t file_offset, std::string_view what);

}  // namespace shardlake
