#include "common/errno_status.h"

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

}  // namespace shardlake
