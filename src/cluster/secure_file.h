// Small-file I/O for security material (users file, certificates, keys):
// atomic, durable writes whose permissions hold from the moment the file
// exists, and reads that refuse files other users could read.
//
// Thread-safety: every function may be called concurrently; concurrent writers
// of one path leave one complete version (the last rename wins).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shardlake {

// Mode for files only their owner may read: keys, the users file.
inline constexpr mode_t kOwnerOnlyFileMode = 0600;
// Mode for public material: certificates.
inline constexpr mode_t kPublicFileMode = 0644;

// Files larger than this are refused by the readers below (they hold a few
// certificates or user records; a huge file is a mistake, not input).
inline constexpr int64_t kMaxSecurityFileBytes = 16 << 20;

// Writes `contents` to `path` atomically and durably: a temp file
// ".<name>.tmp.<uuid>" in the same directory is created with `mode` (and the
// process umask) via O_CREAT|O_EXCL, so it is never more widely readable than
// `mode`, then written, fsync'd, renamed over `path`, and the directory is
// fsync'd. The directory must exist. On failure the temp file is removed and
// `path` is unchanged. Errors: as ErrnoStatus (common/errno_status.h), with a
// message naming `path`; `contents` never appears in a message.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents, mode_t mode);

// Reads the regular file `path` (`what` names it in messages, e.g. "users
// file"). Errors: NotFound if missing; FailedPrecondition if it is not a
// regular file or larger than kMaxSecurityFileBytes; others as ErrnoStatus.
absl::StatusOr<std::string> ReadSecurityFile(const std::string& path, std::string_view what);

// As ReadSecurityFile, and also FailedPrecondition, with the chmod command
// that fixes it, when the file grants any permission to group or others. The
// mode is checked on the opened file, so a swap between check and read cannot
// slip through.
absl::StatusOr<std::string> ReadOwnerOnlyFile(const std::string& path, std::string_view what);

// fsync of a directory, making renames and creations in it durable.
absl::Status FsyncDirectory(const std::string& directory);

}  // namespace shardlake
