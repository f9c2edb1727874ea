#include "storage/local_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include "common/errno_status.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "common/uri.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

// A file's ObjectInfo. A rename (every Put) gives a new inode or mtime, so the
// tag changes whenever the object is replaced.
ObjectInfo InfoOfFile(std::string key, const struct stat& info) {
  const int64_t mtime_ns =
      static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
  return ObjectInfo{std::move(key), static_cast<int64_t>(info.st_size),
                    fmt::format("{:x}-{:x}-{:x}", static_cast<uint64_t>(info.st_ino), mtime_ns,
                                static_cast<int64_t>(info.st_size))};
}

// How often a write retries creating its folders and its file when a
// concurrent Delete removes a (then empty) folder on the way in between.
constexpr int kMaxCreateAttempts = 16;

// Temp file names keep at most this much of the target's name, so that
// ".<name>.tmp.<uuid>" stays within NAME_MAX.
constexpr size_t kMaxTempBaseLength = 160;

constexpr size_t kCopyBufferSize = 1 << 20;

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using DirHandle = std::unique_ptr<DIR, DirCloser>;

// ValidateObjectKey plus this backend's reserved temp file names.
absl::Status ValidateLocalKey(std::string_view key) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  size_t start = 0;
  while (start < key.size()) {
    size_t slash = std::min(key.find('/', start), key.size());
    if (LocalObjectStore::IsTempFileName(key.substr(start, slash - start))) {
      return absl::InvalidArgumentError(fmt::format(
          "object key '{}' has a segment named like a temp file ('.<name>.tmp.<id>')", key));
    }
    start = slash + 1;
  }
  return absl::OkStatus();
}

// A prefix is valid when some valid key can start with it.
absl::Status ValidatePrefix(std::string_view prefix) {
  if (prefix.empty()) return absl::OkStatus();
  if (!ValidateObjectKey(std::string(prefix) + "x").ok()) {
    return absl::InvalidArgumentError(
        fmt::format("list prefix '{}' can match no valid object key", prefix));
  }
  return absl::OkStatus();
}

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

// Reads up to `length` bytes at `offset`; fewer only at end of file.
absl::StatusOr<std::string> ReadAt(int fd, int64_t offset, int64_t length,
                                   const std::string& path) {
  std::string data(static_cast<size_t>(length), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pread(fd, data.data() + done, data.size() - done,
                        static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, fmt::format("cannot read '{}'", path));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
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

// Opens an object's file for reading. A missing file, a missing folder, a
// folder where the file should be or a file where a folder should be all mean
// the object does not exist.
absl::StatusOr<UniqueFd> OpenObjectFile(std::string_view key, const std::string& path,
                                        const std::string& description, struct stat* info) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return absl::NotFoundError(fmt::format("object '{}' not found in {}", key, description));
    }
    return ErrnoStatus(error, fmt::format("cannot open object '{}' ('{}')", key, path));
  }
  if (::fstat(fd.get(), info) != 0) {
    return ErrnoStatus(errno, fmt::format("cannot stat object '{}' ('{}')", key, path));
  }
  if (!S_ISREG(info->st_mode)) {
    return absl::NotFoundError(fmt::format(
        "object '{}' not found in {} ('{}' is not a regular file)", key, description, path));
  }
  return fd;
}

// The status for a root directory that cannot be used: one line naming it.
absl::Status RootError(int error, const std::string& root, std::string_view what) {
  std::string message = fmt::format("object store directory '{}' cannot be used: {}: {}", root,
                                    what, ErrnoText(error));
  if (error == EACCES || error == EPERM || error == EROFS) {
    return absl::PermissionDeniedError(message);
  }
  return absl::FailedPreconditionError(message);
}

}  // namespace

bool LocalObjectStore::IsTempFileName(std::string_view file_name) {
  return file_name.starts_with('.') && file_name.find(".tmp.") != std::string_view::npos;
}

LocalObjectStore::LocalObjectStore(std::string root, std::string description)
    : root_(std::move(root)),
      root_slash_(root_ == "/" ? root_ : root_ + "/"),
      description_(std::move(description)) {}

absl::StatusOr<std::unique_ptr<LocalObjectStore>> LocalObjectStore::Open(const std::string& root) {
  if (root.empty()) {
    return absl::InvalidArgumentError("object store directory is empty");
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path absolute = fs::absolute(fs::path(root), ec);
  if (ec) return RootError(ec.value(), root, "cannot resolve the path");
  std::string normalized = absolute.lexically_normal().string();
  while (normalized.size() > 1 && normalized.back() == '/') normalized.pop_back();

  fs::create_directories(normalized, ec);
  if (ec) return RootError(ec.value(), normalized, "cannot create the directory");
  struct stat info;
  if (::stat(normalized.c_str(), &info) != 0) {
    return RootError(errno, normalized, "cannot stat the directory");
  }
  if (!S_ISDIR(info.st_mode)) return RootError(ENOTDIR, normalized, "not a directory");

  // Prove that files can be created here, so that a read-only or foreign
  // directory fails now rather than at the first write. The probe's name is a
  // temp file name, so List() skips it should it ever be left behind.
  std::string probe =
      fmt::format("{}/.shardlake-probe.tmp.{}", normalized == "/" ? "" : normalized, NewUuid());
  UniqueFd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return RootError(errno, normalized, "cannot create a file in it");
  fd.Close();
  ::unlink(probe.c_str());

  std::string description = "file://" + normalized;
  return std::unique_ptr<LocalObjectStore>(
      new LocalObjectStore(std::move(normalized), std::move(description)));
}

absl::StatusOr<std::unique_ptr<LocalObjectStore>> LocalObjectStore::OpenUri(std::string_view uri) {
  ASSIGN_OR_RETURN(Uri parsed, ParseUri(uri));
  if (parsed.scheme != "file") {
    return absl::InvalidArgumentError(fmt::format("'{}' is not a file:// URI", parsed.Redacted()));
  }
  if (!parsed.host.empty() && parsed.host != "localhost") {
    return absl::InvalidArgumentError(fmt::format(
        "'{}' names host '{}'; use file:///absolute/dir or file:relative/dir", uri, parsed.host));
  }
  if (!parsed.query.empty()) {
    return absl::InvalidArgumentError(fmt::format("'{}': file:// takes no query parameters", uri));
  }
  if (parsed.path.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' has no directory; use file:///absolute/dir or file:relative/dir", uri));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<LocalObjectStore> store, Open(parsed.path));
  store->description_ = std::string(uri);
  return store;
}

std::string LocalObjectStore::Describe() const { return description_; }

std::string LocalObjectStore::PathOf(std::string_view relative) const {
  if (relative.empty()) return root_;
  return root_slash_ + std::string(relative);
}

std::string LocalObjectStore::DirectoryOf(std::string_view key) const {
  size_t slash = key.rfind('/');
  return slash == std::string_view::npos ? root_ : PathOf(key.substr(0, slash));
}

absl::Status LocalObjectStore::MakeParentDirectories(std::string_view key) const {
  std::string parent = root_;
  for (size_t slash = key.find('/'); slash != std::string_view::npos;
       slash = key.find('/', slash + 1)) {
    std::string directory = PathOf(key.substr(0, slash));
    if (::mkdir(directory.c_str(), 0777) == 0) {
      // Make the new folder's entry durable, or the object in it is not.
      RETURN_IF_ERROR(FsyncDirectory(parent));
    } else if (errno != EEXIST) {
      return ErrnoStatus(errno,
                         fmt::format("put '{}': cannot create directory '{}'", key, directory));
    }
    parent = std::move(directory);
  }
  return absl::OkStatus();
}

absl::Status LocalObjectStore::WriteAtomically(
    std::string_view key,
    const std::function<absl::Status(int fd, const std::string& temp_path)>& fill) {
  const std::string target = PathOf(key);
  const std::string directory = DirectoryOf(key);
  size_t slash = key.rfind('/');
  std::string_view base = slash == std::string_view::npos ? key : key.substr(slash + 1);
  const std::string temp =
      fmt::format("{}/.{}.tmp.{}", directory, base.substr(0, kMaxTempBaseLength), NewUuid());

  UniqueFd fd;
  for (int attempt = 1;; ++attempt) {
    absl::Status status = MakeParentDirectories(key);
    if (status.ok()) {
      fd = UniqueFd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (fd.valid()) break;
      status = ErrnoStatus(errno, fmt::format("put '{}': cannot create '{}'", key, temp));
    }
    // NotFound: a concurrent Delete pruned a folder on the way; try again.
    if (!absl::IsNotFound(status) || attempt == kMaxCreateAttempts) return status;
  }

  absl::Status status = fill(fd.get(), temp);
  if (status.ok() && ::fsync(fd.get()) != 0) {
    status = ErrnoStatus(errno, fmt::format("put '{}': cannot fsync '{}'", key, temp));
  }
  if (int error = fd.Close(); status.ok() && error != 0) {
    status = ErrnoStatus(error, fmt::format("put '{}': cannot close '{}'", key, temp));
  }
  if (status.ok() && ::rename(temp.c_str(), target.c_str()) != 0) {
    status =
        ErrnoStatus(errno, fmt::format("put '{}': cannot rename '{}' to '{}'", key, temp, target));
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return FsyncDirectory(directory);
}

absl::Status LocalObjectStore::Put(std::string_view key, std::string_view data) {
  RETURN_IF_ERROR(ValidateLocalKey(key));
  return WriteAtomically(
      key, [data](int fd, const std::string& temp_path) { return WriteAll(fd, data, temp_path); });
}

absl::Status LocalObjectStore::RenameInto(std::string_view key, const std::string& local_path,
                                          bool* cross_device) {
  *cross_device = false;
  const std::string target = PathOf(key);
  for (int attempt = 1;; ++attempt) {
    absl::Status status = MakeParentDirectories(key);
    if (status.ok()) {
      if (::rename(local_path.c_str(), target.c_str()) == 0) break;
      int error = errno;
      if (error == EXDEV) {
        *cross_device = true;
        return absl::OkStatus();
      }
      status = ErrnoStatus(
          error, fmt::format("put '{}': cannot rename '{}' to '{}'", key, local_path, target));
      // ENOENT means the source vanished or a concurrent Delete pruned the
      // target's folder; only the latter is worth another attempt.
      if (error == ENOENT && ::access(local_path.c_str(), F_OK) != 0) return status;
    }
    if (!absl::IsNotFound(status) || attempt == kMaxCreateAttempts) return status;
  }
  RETURN_IF_ERROR(FsyncDirectory(DirectoryOf(key)));
  // The source's folder lost an entry; that need not be durable.
  return absl::OkStatus();
}

absl::Status LocalObjectStore::PutFile(std::string_view key, const std::string& local_path,
                                       bool consume) {
  RETURN_IF_ERROR(ValidateLocalKey(key));
  UniqueFd source(::open(local_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!source.valid()) {
    return ErrnoStatus(errno, fmt::format("put '{}': cannot open '{}'", key, local_path));
  }
  struct stat info;
  if (::fstat(source.get(), &info) != 0) {
    return ErrnoStatus(errno, fmt::format("put '{}': cannot stat '{}'", key, local_path));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(
        fmt::format("put '{}': '{}' is not a regular file", key, local_path));
  }

  if (consume) {
    // The caller may never have fsync'd the file; its data must be durable
    // before its new name is.
    if (::fsync(source.get()) != 0) {
      return ErrnoStatus(errno, fmt::format("put '{}': cannot fsync '{}'", key, local_path));
    }
    bool cross_device = false;
    RETURN_IF_ERROR(RenameInto(key, local_path, &cross_device));
    if (!cross_device) return absl::OkStatus();
  }

  RETURN_IF_ERROR(WriteAtomically(key, [&](int fd, const std::string& temp_path) {
    std::string buffer(kCopyBufferSize, '\0');
    while (true) {
      ssize_t n = ::read(source.get(), buffer.data(), buffer.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, fmt::format("put '{}': cannot read '{}'", key, local_path));
      }
      if (n == 0) return absl::OkStatus();
      RETURN_IF_ERROR(
          WriteAll(fd, std::string_view(buffer.data(), static_cast<size_t>(n)), temp_path));
    }
  }));
  if (consume) ::unlink(local_path.c_str());  // Best effort: the object is safe.
  return absl::OkStatus();
}

absl::StatusOr<std::string> LocalObjectStore::Get(std::string_view key) {
  RETURN_IF_ERROR(ValidateLocalKey(key));
  const std::string path = PathOf(key);
  struct stat info;
  ASSIGN_OR_RETURN(UniqueFd fd, OpenObjectFile(key, path, description_, &info));
  return ReadAt(fd.get(), 0, static_cast<int64_t>(info.st_size), path);
}

absl::StatusOr<std::string> LocalObjectStore::GetRange(std::string_view key, int64_t offset,
                                                       int64_t length) {
  RETURN_IF_ERROR(ValidateLocalKey(key));
  if (offset < 0 || length < 0) {
    return absl::InvalidArgumentError(fmt::format(
        "get range of '{}': offset {} and length {} must not be negative", key, offset, length));
  }
  const std::string path = PathOf(key);
  struct stat info;
  ASSIGN_OR_RETURN(UniqueFd fd, OpenObjectFile(key, path, description_, &info));
  const auto size = static_cast<int64_t>(info.st_size);
  if (offset > size) {
    return absl::OutOfRangeError(
        fmt::format("get range of '{}': offset {} is past the end of the object ({} bytes)", key,
                    offset, size));
  }
  return ReadAt(fd.get(), offset, std::min(length, size - offset), path);
}

absl::StatusOr<ObjectInfo> LocalObjectStore::Stat(std::string_view key) {
  RETURN_IF_ERROR(ValidateLocalKey(key));
  const std::string path = PathOf(key);
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return absl::NotFoundError(fmt::format("object '{}' not found in {}", key, description_));
    }
    return ErrnoStatus(error, fmt::format("cannot stat object '{}' ('{}')", key, path));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::NotFoundError(fmt::format(
        "object '{}' not found in {} ('{}' is not a regular file)", key, description_, path));
  }
  return InfoOfFile(std::string(key), info);
}

absl::StatusOr<bool> LocalObjectStore::Exists(std::string_view key) {
  auto info = Stat(key);
  if (info.ok()) return true;
  if (absl::IsNotFound(info.status())) return false;
  return info.status();
}

absl::Status LocalObjectStore::ListDirectory(const std::string& directory,
                                             const std::string& key_prefix, std::string_view prefix,
                                             std::vector<ObjectInfo>* out) const {
  DirHandle dir(::opendir(directory.c_str()));
  if (dir == nullptr) {
    // A folder that is missing or was pruned by a concurrent Delete is empty.
    if (errno == ENOENT || errno == ENOTDIR) return absl::OkStatus();
    return ErrnoStatus(errno,
                       fmt::format("list '{}': cannot open directory '{}'", prefix, directory));
  }
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) {
        return ErrnoStatus(errno,
                           fmt::format("list '{}': cannot read directory '{}'", prefix, directory));
      }
      return absl::OkStatus();
    }
    std::string_view name = entry->d_name;
    if (name == "." || name == ".." || IsTempFileName(name)) continue;
    std::string key = key_prefix + std::string(name);
    std::string path = directory + "/" + std::string(name);
    struct stat info;
    if (::lstat(path.c_str(), &info) != 0) {
      if (errno == ENOENT) continue;  // Deleted while we list.
      return ErrnoStatus(errno, fmt::format("list '{}': cannot stat '{}'", prefix, path));
    }
    if (S_ISDIR(info.st_mode)) {
      std::string folder = key + "/";
      if (folder.starts_with(prefix) || prefix.starts_with(folder)) {
        RETURN_IF_ERROR(ListDirectory(path, folder, prefix, out));
      }
      continue;
    }
    if (!key.starts_with(prefix)) continue;
    if (S_ISLNK(info.st_mode) && ::stat(path.c_str(), &info) != 0) continue;  // Dangling.
    if (!S_ISREG(info.st_mode)) continue;
    out->push_back(InfoOfFile(std::move(key), info));
  }
}

absl::StatusOr<std::vector<ObjectInfo>> LocalObjectStore::List(std::string_view prefix) {
  RETURN_IF_ERROR(ValidatePrefix(prefix));
  // Start in the deepest folder the prefix names completely.
  size_t slash = prefix.rfind('/');
  std::string folder_key =
      slash == std::string_view::npos ? std::string() : std::string(prefix.substr(0, slash + 1));
  std::string directory = PathOf(
      std::string_view(folder_key).substr(0, folder_key.empty() ? 0 : folder_key.size() - 1));
  std::vector<ObjectInfo> result;
  RETURN_IF_ERROR(ListDirectory(directory, folder_key, prefix, &result));
  // Folder-by-folder order is not key order ("a-b" < "a/b" < "a0").
  std::sort(result.begin(), result.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return result;
}

absl::Status LocalObjectStore::Delete(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) RETURN_IF_ERROR(ValidateLocalKey(key));
  std::set<std::string> changed_directories;
  for (const std::string& key : keys) {
    const std::string path = PathOf(key);
    if (::unlink(path.c_str()) != 0) {
      int error = errno;
      // Missing, or not an object (a folder, or below a file): nothing to do.
      if (error == ENOENT || error == ENOTDIR || error == EISDIR) continue;
      return ErrnoStatus(error, fmt::format("delete '{}': cannot remove '{}'", key, path));
    }
    // Remove the folders this emptied, deepest first, never the root. A folder
    // that is not empty (or is concurrently refilled) stops the walk.
    std::string_view folder = key;
    std::string surviving = root_;
    for (size_t cut = folder.rfind('/'); cut != std::string_view::npos; cut = folder.rfind('/')) {
      folder = folder.substr(0, cut);
      std::string directory = PathOf(folder);
      if (::rmdir(directory.c_str()) != 0) {
        surviving = std::move(directory);
        break;
      }
    }
    changed_directories.insert(std::move(surviving));
  }
  for (const std::string& directory : changed_directories) {
    absl::Status status = FsyncDirectory(directory);
    if (!status.ok() && !absl::IsNotFound(status)) return status;
  }
  return absl::OkStatus();
}

std::optional<std::string> LocalObjectStore::LocalPath(std::string_view key) const {
  if (!ValidateLocalKey(key).ok()) return std::nullopt;
  return PathOf(key);
}

}  // namespace shardlake
