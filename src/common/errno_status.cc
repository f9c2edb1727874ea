#include "common/errno_status.h"

#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "fmt/format.h"

namespace shardlake {

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

absl::Status ErrnoStatus(int error, std::string_view context) {
  std::string message = fmt::format("{}: {}", context, ErrnoText(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    case ENOTDIR:
    case EISDIR:
    case EEXIST:
    case ENOTEMPTY:
    case EXDEV:
      return absl::FailedPreconditionError(message);
    case ENAMETOOLONG:
    case ELOOP:
      return absl::InvalidArgumentError(message);
    case EIO:
    case EAGAIN:
    case EBUSY:
    case ETIMEDOUT:
    case ESTALE:
    case EINTR:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status WriteAllAt(int fd, std::string_view data, int64_t file_offset, std::string_view what) {
  while (!data.empty()) {
    ssize_t written = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(file_offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, fmt::format("{}: cannot write to the local file", what));
    }
    data.remove_prefix(static_cast<size_t>(written));
    file_offset += written;
  }
  return absl::OkStatus();
}

}  // namespace shardlake
