#include "cluster/secure_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "common/errno_status.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, fmt::format("cannot write '{}'", path));
    }
    data.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

// Opens and fstats `path`, checking it is a regular file of bounded size.
absl::StatusOr<std::string> ReadChecked(const std::string& path, std::string_view what,
                                        bool owner_only) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, fmt::format("cannot open {} '{}'", what, path));
  struct stat info;
  if (::fstat(fd.get(), &info) != 0) {
    return ErrnoStatus(errno, fmt::format("cannot stat {} '{}'", what, path));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::FailedPreconditionError(fmt::format("{} '{}' is not a regular file", what, path));
  }
  if (owner_only && (info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return absl::FailedPreconditionError(fmt::format(
        "{} '{}' has mode {:04o}, so other users may read it; it must be accessible by its owner "
        "only: run chmod 600 '{}' (and consider its contents exposed)",
        what, path, info.st_mode & 07777, path));
  }
  if (info.st_size > kMaxSecurityFileBytes) {
    return absl::FailedPreconditionError(
        fmt::format("{} '{}' has {} bytes, more than the {} allowed", what, path, info.st_size,
                    kMaxSecurityFileBytes));
  }
  std::string contents;
  char buffer[8192];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, fmt::format("cannot read {} '{}'", what, path));
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
    if (static_cast<int64_t>(contents.size()) > kMaxSecurityFileBytes) {
      return absl::FailedPreconditionError(fmt::format(
          "{} '{}' grew beyond {} bytes while being read", what, path, kMaxSecurityFileBytes));
    }
  }
  return contents;
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents, mode_t mode) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string directory = parent.string();
  const std::string temp =
      (parent / fmt::format(".{}.tmp.{}", target.filename().string(), NewUuid())).string();

  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) {
    return ErrnoStatus(errno, fmt::format("cannot create '{}' (to write '{}')", temp, path));
  }
  absl::Status status = WriteAll(fd.get(), contents, temp);
  if (status.ok() && ::fsync(fd.get()) != 0) {
    status = ErrnoStatus(errno, fmt::format("cannot fsync '{}'", temp));
  }
  if (int error = fd.Close(); status.ok() && error != 0) {
    status = ErrnoStatus(error, fmt::format("cannot close '{}'", temp));
  }
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus(errno, fmt::format("cannot rename '{}' to '{}'", temp, path));
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return FsyncDirectory(directory);
}

absl::StatusOr<std::string> ReadSecurityFile(const std::string& path, std::string_view what) {
  return ReadChecked(path, what, /*owner_only=*/false);
}

absl::StatusOr<std::string> ReadOwnerOnlyFile(const std::string& path, std::string_view what) {
  return ReadChecked(path, what, /*owner_only=*/true);
}

absl::Status FsyncDirectory(const std::string& directory) {
  UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoStatus(errno, fmt::format("cannot open directory '{}' to fsync it", directory));
  }
  if (::fsync(fd.get()) != 0) {
    return ErrnoStatus(errno, fmt::format("cannot fsync directory '{}'", directory));
  }
  return absl::OkStatus();
}

}  // namespace shardlake
