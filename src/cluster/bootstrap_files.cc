#include "cluster/bootstrap_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "cluster/secure_file.h"
#include "cluster/tls_files.h"
#include "cluster/users_file.h"
#include "common/errno_status.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;

constexpr mode_t kDataDirectoryMode = 0700;

// `status` with `context: ` before its message, same code.
absl::Status WithContext(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), fmt::format("{}: {}", context, std::string(status.message())));
}

// True when `path` is a directory with no entries. Errors as ErrnoStatus.
absl::StatusOr<bool> IsEmptyDirectory(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), ::closedir);
  if (!dir) return ErrnoStatus(errno, fmt::format("cannot read directory '{}'", path));
  errno = 0;
  while (const struct dirent* entry = ::readdir(dir.get())) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") return false;
  }
  if (errno != 0) return ErrnoStatus(errno, fmt::format("cannot read directory '{}'", path));
  return true;
}

absl::Status FsyncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return ErrnoStatus(errno, fmt::format("cannot open '{}' to fsync it", path));
  int error = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  if (error != 0) return ErrnoStatus(error, fmt::format("cannot fsync '{}'", path));
  return absl::OkStatus();
}

// fsyncs every regular file and directory under `root`, and `root`, so that the
// tree is durable before its name changes (files written by other code, e.g.
// DuckDB, need not have been fsync'd).
absl::Status FsyncTree(const std::string& root) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::file_status status = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_regular_file(status)) {
      RETURN_IF_ERROR(FsyncFile(it->path().string()));
    } else if (fs::is_directory(status)) {
      RETURN_IF_ERROR(FsyncDirectory(it->path().string()));
    }
  }
  if (ec) return ErrnoStatus(ec.value(), fmt::format("cannot walk staging directory '{}'", root));
  return FsyncDirectory(root);
}

bool IsExchangeUnsupported(int error) {
  return error == EINVAL || error == ENOSYS || error == EOPNOTSUPP;
}

}  // namespace

absl::Status ValidateBootstrapPlan(const BootstrapPlan& plan) {
  if (plan.data_dir.empty()) return absl::InvalidArgumentError("--data-dir is empty");
  RETURN_IF_ERROR(WithContext(ValidateUsername(plan.client_username), "--client-username"));
  if (plan.client_username == kWorkerUsername) {
    return absl::InvalidArgumentError(
        fmt::format("--client-username: user name '{}' is reserved for the workers; choose another",
                    kWorkerUsername));
  }
  RETURN_IF_ERROR(ValidateNewPassword(plan.client_password, "--client-password"));
  RETURN_IF_ERROR(ValidateNewPassword(plan.worker_password, "--worker-password"));
  if (!plan.tls_hostname.empty()) {
    RETURN_IF_ERROR(WithContext(ValidateTlsHostname(plan.tls_hostname), "--tls-hostname"));
  }
  return ValidateScryptParams(plan.password_params);
}

absl::Status WriteSecurityFiles(const std::string& staging_dir, const BootstrapPlan& plan) {
  RETURN_IF_ERROR(ValidateBootstrapPlan(plan));
  UsersFile users;
  RETURN_IF_ERROR(users.AddUser(plan.client_username, UserRole::kClient, plan.client_password,
                                plan.password_params));
  RETURN_IF_ERROR(users.AddUser(kWorkerUsername, UserRole::kWorker, plan.worker_password,
                                plan.password_params));
  RETURN_IF_ERROR(users.Save((fs::path(staging_dir) / kUsersFileName).string()));
  TlsGenerationOptions tls;
  tls.hostname = plan.tls_hostname;
  return GenerateTlsFiles((fs::path(staging_dir) / kTlsDirectoryName).string(), tls);
}

BootstrapStaging::BootstrapStaging(std::string data_dir, std::string staging_dir, bool force)
    : data_dir_(std::move(data_dir)),
      staging_dir_(std::move(staging_dir)),
      parent_dir_(fs::path(data_dir_).parent_path().string()),
      force_(force) {}

BootstrapStaging::BootstrapStaging(BootstrapStaging&& other) noexcept
    : data_dir_(std::move(other.data_dir_)),
      staging_dir_(std::exchange(other.staging_dir_, std::string())),
      parent_dir_(std::move(other.parent_dir_)),
      force_(other.force_),
      fault_injected_(other.fault_injected_),
      injected_step_(other.injected_step_),
      injected_fault_(other.injected_fault_),
      rename_exchange_disabled_(other.rename_exchange_disabled_) {}

BootstrapStaging& BootstrapStaging::operator=(BootstrapStaging&& other) noexcept {
  if (this != &other) {
    Abort();
    data_dir_ = std::move(other.data_dir_);
    staging_dir_ = std::exchange(other.staging_dir_, std::string());
    parent_dir_ = std::move(other.parent_dir_);
    force_ = other.force_;
    fault_injected_ = other.fault_injected_;
    injected_step_ = other.injected_step_;
    injected_fault_ = other.injected_fault_;
    rename_exchange_disabled_ = other.rename_exchange_disabled_;
  }
  return *this;
}

BootstrapStaging::~BootstrapStaging() { Abort(); }

absl::StatusOr<BootstrapStaging> BootstrapStaging::Begin(const std::string& data_dir, bool force) {
  if (data_dir.empty()) return absl::InvalidArgumentError("--data-dir is empty");
  std::error_code ec;
  fs::path target = fs::absolute(data_dir, ec);
  // Resolve symlinks, so that the directory swapped is the real one.
  if (!ec) target = fs::weakly_canonical(target, ec);
  if (ec) {
    return ErrnoStatus(ec.value(), fmt::format("cannot resolve data dir '{}'", data_dir));
  }
  std::string target_text = target.string();
  while (target_text.size() > 1 && target_text.back() == '/') target_text.pop_back();
  target = fs::path(target_text);
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == ".." || target == target.root_path()) {
    return absl::InvalidArgumentError(
        fmt::format("data dir '{}' has no name of its own to replace; name a directory below "
                    "the file system root",
                    data_dir));
  }
  const fs::path parent = target.parent_path();
  fs::create_directories(parent, ec);
  if (ec) {
    return ErrnoStatus(ec.value(),
                       fmt::format("cannot create the parent of data dir '{}'", target_text));
  }

  struct stat info;
  if (::lstat(target_text.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) {
      return absl::FailedPreconditionError(fmt::format(
          "data dir '{}' exists and is not a directory; move it away or choose another --data-dir",
          target_text));
    }
    ASSIGN_OR_RETURN(bool empty, IsEmptyDirectory(target_text));
    if (!empty && !force) {
      return absl::FailedPreconditionError(fmt::format(
          "data dir '{}' already exists and is not empty; pass --force to replace it (its "
          "contents will be deleted) or choose another --data-dir",
          target_text));
    }
  } else if (errno != ENOENT) {
    return ErrnoStatus(errno, fmt::format("cannot stat data dir '{}'", target_text));
  }

  const std::string staging = (parent / fmt::format(".{}.staging.{}", name, NewUuid())).string();
  if (::mkdir(staging.c_str(), kDataDirectoryMode) != 0) {
    return ErrnoStatus(errno, fmt::format("cannot create staging directory '{}'", staging));
  }
  return BootstrapStaging(std::move(target_text), staging, force);
}

void BootstrapStaging::Abort() {
  if (staging_dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(staging_dir_, ec);
  if (ec) {
    spdlog::warn("bootstrap: could not remove staging directory '{}': {}; delete it by hand",
                 staging_dir_, ec.message());
  }
  staging_dir_.clear();
}

absl::Status BootstrapStaging::InjectedFaultAt(CommitStep step) {
  if (!fault_injected_ || injected_step_ != step) return absl::OkStatus();
  if (injected_fault_ == InjectedFault::kCrash || step == CommitStep::kSwapped) {
    staging_dir_.clear();  // A crashed process cleans nothing up.
    return absl::InternalError("injected crash in Commit()");
  }
  return absl::InternalError("injected failure in Commit()");
}

absl::Status BootstrapStaging::Commit() {
  if (staging_dir_.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("bootstrap of '{}' was already committed or aborted", data_dir_));
  }
  RETURN_IF_ERROR(FsyncTree(staging_dir_));
  RETURN_IF_ERROR(InjectedFaultAt(CommitStep::kBeforeSwap));

  struct stat info;
  if (::lstat(data_dir_.c_str(), &info) != 0) {
    if (errno != ENOENT) {
      return ErrnoStatus(errno, fmt::format("cannot stat data dir '{}'", data_dir_));
    }
    return MoveIntoAbsentTarget();
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(fmt::format(
        "data dir '{}' exists and is not a directory; move it away or choose another --data-dir",
        data_dir_));
  }
  ASSIGN_OR_RETURN(bool target_empty, IsEmptyDirectory(data_dir_));
  if (!target_empty && !force_) {
    return absl::FailedPreconditionError(fmt::format(
        "data dir '{}' was filled by someone else during the bootstrap; pass --force to replace "
        "it or choose another --data-dir",
        data_dir_));
  }
  if (!rename_exchange_disabled_) {
    bool unsupported = false;
    absl::Status status = SwapByExchange(&unsupported);
    if (!unsupported) return status;
  }
  return SwapByRenames(target_empty);
}

absl::Status BootstrapStaging::MoveIntoAbsentTarget() {
  if (::renameat2(AT_FDCWD, staging_dir_.c_str(), AT_FDCWD, data_dir_.c_str(), RENAME_NOREPLACE) !=
      0) {
    int error = errno;
    if (error == EEXIST || error == ENOTEMPTY) {
      return absl::FailedPreconditionError(fmt::format(
          "data dir '{}' was created by someone else during the bootstrap; run it again",
          data_dir_));
    }
    if (IsExchangeUnsupported(error)) {  // No RENAME_NOREPLACE: accept the tiny race.
      if (::rename(staging_dir_.c_str(), data_dir_.c_str()) == 0) return Finish("");
      error = errno;
    }
    return ErrnoStatus(error, fmt::format("cannot rename '{}' to '{}'", staging_dir_, data_dir_));
  }
  RETURN_IF_ERROR(InjectedFaultAt(CommitStep::kSwapped));
  return Finish("");
}

absl::Status BootstrapStaging::SwapByExchange(bool* unsupported) {
  *unsupported = false;
  if (::renameat2(AT_FDCWD, staging_dir_.c_str(), AT_FDCWD, data_dir_.c_str(), RENAME_EXCHANGE) !=
      0) {
    int error = errno;
    if (IsExchangeUnsupported(error)) {
      *unsupported = true;
      return absl::OkStatus();
    }
    return ErrnoStatus(error,
                       fmt::format("cannot swap '{}' with data dir '{}'", staging_dir_, data_dir_));
  }
  // The old directory is now at staging_dir_. Without force it must have
  // been empty; if it was filled since the check, put it back.
  if (!force_) {
    absl::StatusOr<bool> empty = IsEmptyDirectory(staging_dir_);
    if (!empty.ok() || !*empty) {
      if (::renameat2(AT_FDCWD, staging_dir_.c_str(), AT_FDCWD, data_dir_.c_str(),
                      RENAME_EXCHANGE) != 0) {
        std::string old_dir = std::exchange(staging_dir_, std::string());
        return absl::InternalError(fmt::format(
            "data dir '{}' was filled during the bootstrap and could not be put back: it is now "
            "at '{}'; move it back by hand",
            data_dir_, old_dir));
      }
      return absl::FailedPreconditionError(fmt::format(
          "data dir '{}' was filled by someone else during the bootstrap; pass --force to "
          "replace it or choose another --data-dir",
          data_dir_));
    }
  }
  RETURN_IF_ERROR(InjectedFaultAt(CommitStep::kSwapped));
  return Finish(std::exchange(staging_dir_, std::string()));
}

absl::Status BootstrapStaging::SwapByRenames(bool target_empty) {
  if (target_empty && !force_) {
    if (::rmdir(data_dir_.c_str()) != 0) {
      if (errno == ENOTEMPTY || errno == EEXIST) {
        return absl::FailedPreconditionError(fmt::format(
            "data dir '{}' was filled by someone else during the bootstrap; pass --force to "
            "replace it or choose another --data-dir",
            data_dir_));
      }
      return ErrnoStatus(errno, fmt::format("cannot remove empty data dir '{}'", data_dir_));
    }
    return MoveIntoAbsentTarget();
  }

  const std::string old_dir =
      (fs::path(parent_dir_) /
       fmt::format(".{}.old.{}", fs::path(data_dir_).filename().string(), NewUuid()))
          .string();
  if (::rename(data_dir_.c_str(), old_dir.c_str()) != 0) {
    return ErrnoStatus(errno,
                       fmt::format("cannot move data dir '{}' aside to '{}'", data_dir_, old_dir));
  }
  absl::Status status = InjectedFaultAt(CommitStep::kOldMovedAside);
  if (status.ok() && ::renameat2(AT_FDCWD, staging_dir_.c_str(), AT_FDCWD, data_dir_.c_str(),
                                 RENAME_NOREPLACE) != 0) {
    status = ErrnoStatus(errno, fmt::format("cannot rename '{}' to '{}'", staging_dir_, data_dir_));
  }
  if (!status.ok()) {
    if (staging_dir_.empty()) return status;  // Injected crash: leave everything.
    if (::rename(old_dir.c_str(), data_dir_.c_str()) != 0) {
      return absl::InternalError(fmt::format(
          "{}; and the old data dir could not be moved back: it is at '{}', move it to '{}' by "
          "hand",
          std::string(status.message()), old_dir, data_dir_));
    }
    return status;
  }
  staging_dir_.clear();
  RETURN_IF_ERROR(InjectedFaultAt(CommitStep::kSwapped));
  return Finish(old_dir);
}

absl::Status BootstrapStaging::Finish(const std::string& old_dir) {
  staging_dir_.clear();
  absl::Status status = FsyncDirectory(parent_dir_);
  if (!old_dir.empty()) {
    std::error_code ec;
    fs::remove_all(old_dir, ec);
    if (ec) {
      spdlog::warn(
          "bootstrap: the new data dir '{}' is in place, but the old one at '{}' could "
          "not be removed: {}; delete it by hand",
          data_dir_, old_dir, ec.message());
    }
  }
  return status;
}

}  // namespace shardlake
