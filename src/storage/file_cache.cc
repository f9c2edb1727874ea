#include "storage/file_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "common/errno_status.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "fmt/format.h"

namespace shardlake {

// A shared flock on an entry's file, held through `fd` until destruction.
struct CachedFile::Pin {
  explicit Pin(int fd) : fd(fd) {}
  ~Pin() { ::close(fd); }
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  const int fd;
};

// One download in this process, which other fetchers of the entry wait for.
struct FileCache::Flight {
  bool done = false;                         // guarded by FileCache::mutex_
  absl::StatusOr<PinPtr> result = PinPtr();  // set with `done`
  std::condition_variable finished;
};

namespace {

constexpr char kLockFileName[] = ".lock";
constexpr std::string_view kTempPrefix = ".download-";
constexpr std::string_view kTempSuffix = ".tmp";

// Entry names: 'k' <kKeyHashHex> "-v" <kVersionHashHex> '-' <suffix>.
constexpr size_t kKeyHashHex = 32;
constexpr size_t kVersionHashHex = 16;
constexpr size_t kKeyPartLength = 1 + kKeyHashHex;
constexpr size_t kVersionEnd = kKeyPartLength + 2 + kVersionHashHex;
constexpr size_t kMaxSuffixLength = 64;

// How often Fetch tries to pin an entry that keeps being evicted (by other
// processes, in a cache too small for their load) before giving up.
constexpr int kMaxPinAttempts = 4;

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using DirHandle = std::unique_ptr<DIR, DirCloser>;

// flock(2), retried when a signal interrupts a blocking wait.
int Flock(int fd, int operation) {
  int result;
  do {
    result = ::flock(fd, operation);
  } while (result != 0 && errno == EINTR);
  return result;
}

// The first `hex_chars` hex digits of SHA-256(data).
std::string Sha256Hex(std::string_view data, size_t hex_chars) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  EVP_Digest(data.data(), data.size(), digest, &digest_length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < digest_length && hex.size() < hex_chars; ++i) {
    hex += fmt::format("{:02x}", digest[i]);
  }
  hex.resize(hex_chars);
  return hex;
}

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool IsEntryName(std::string_view name) {
  return name.size() > kVersionEnd && name[0] == 'k' && IsLowerHex(name.substr(1, kKeyHashHex)) &&
         name.substr(kKeyPartLength, 2) == "-v" &&
         IsLowerHex(name.substr(kKeyPartLength + 2, kVersionHashHex)) && name[kVersionEnd] == '-';
}

// The part of an entry name shared by every version of its key.
std::string_view KeyPartOf(std::string_view entry_name) {
  return entry_name.substr(0, kKeyPartLength);
}

bool IsTempName(std::string_view name) {
  return name.starts_with(kTempPrefix) && name.ends_with(kTempSuffix);
}

// `status` with `context` in front of its message, same code.
absl::Status WithContext(const absl::Status& status, std::string_view context) {
  return absl::Status(status.code(), fmt::format("{}: {}", context, std::string(status.message())));
}

// Renames `from` to `to` unless `to` exists: true if renamed, false if `to`
// exists (and `from` is left in place).
absl::StatusOr<bool> RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return true;
  }
  int error = errno;
  if (error == EEXIST) return false;
  if (error != EINVAL && error != ENOSYS) {
    return ErrnoStatus(error, fmt::format("file cache: cannot rename '{}' to '{}'", from, to));
  }
  // A file system without RENAME_NOREPLACE: link() never replaces either.
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return false;
    return ErrnoStatus(errno, fmt::format("file cache: cannot link '{}' to '{}'", from, to));
  }
  ::unlink(from.c_str());
  return true;
}

// Marks the entry at `path` as just used, for LRU. Best effort: a failure only
// makes the entry look older.
void TouchAccessTime(const std::string& path) {
  const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

absl::Status DirectoryError(int error, const std::string& directory, std::string_view what) {
  return ErrnoStatus(error,
                     fmt::format("file cache directory '{}' cannot be used: {}", directory, what));
}

}  // namespace

FileCache::FileCache(std::string directory, const FileCacheOptions& options, int lock_fd)
    : directory_(std::move(directory)), options_(options), lock_fd_(lock_fd) {}

FileCache::~FileCache() { ::close(lock_fd_); }

absl::StatusOr<std::unique_ptr<FileCache>> FileCache::Open(const std::string& directory,
                                                           const FileCacheOptions& options) {
  if (directory.empty()) return absl::InvalidArgumentError("file cache directory is empty");
  if (options.max_bytes <= 0 || options.download_chunk_bytes <= 0) {
    return absl::InvalidArgumentError(fmt::format(
        "file cache '{}': the size limit ({} bytes) and the download chunk ({} bytes) must be "
        "positive",
        directory, options.max_bytes, options.download_chunk_bytes));
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path absolute = fs::absolute(fs::path(directory), ec);
  if (ec) return DirectoryError(ec.value(), directory, "cannot resolve the path");
  std::string normalized = absolute.lexically_normal().string();
  while (normalized.size() > 1 && normalized.back() == '/') normalized.pop_back();
  fs::create_directories(normalized, ec);
  if (ec) return DirectoryError(ec.value(), normalized, "cannot create the directory");

  const std::string lock_path = normalized + "/" + kLockFileName;
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return DirectoryError(errno, normalized, "cannot create its lock file");
  std::unique_ptr<FileCache> cache(new FileCache(std::move(normalized), options, lock_fd));
  RETURN_IF_ERROR(cache->Trim());
  return cache;
}

std::string FileCache::EntryFileName(std::string_view store_description, const ObjectInfo& info) {
  // NUL never occurs in a key, so these encodings are unambiguous.
  std::string object;
  object.append(store_description).push_back('\0');
  object.append(info.key);
  std::string version = object;
  version.push_back('\0');
  version.append(info.etag).push_back('\0');
  version.append(std::to_string(info.size_bytes));

  std::string_view base = info.key;
  if (size_t slash = base.rfind('/'); slash != std::string_view::npos) {
    base.remove_prefix(slash + 1);
  }
  if (base.size() > kMaxSuffixLength) base.remove_prefix(base.size() - kMaxSuffixLength);
  std::string suffix(base);
  for (char& c : suffix) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
    if (!safe) c = '_';
  }
  return fmt::format("k{}-v{}-{}", Sha256Hex(object, kKeyHashHex),
                     Sha256Hex(version, kVersionHashHex), suffix);
}

FileCacheStats FileCache::stats() const {
  FileCacheStats stats;
  stats.hits = hits_.load();
  stats.misses = misses_.load();
  stats.bytes_downloaded = bytes_downloaded_.load();
  stats.evictions = evictions_.load();
  stats.stale_removed = stale_removed_.load();
  stats.failed_downloads = failed_downloads_.load();
  return stats;
}

FileCache::PinPtr FileCache::FindPin(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = pins_.find(name);
  return it == pins_.end() ? nullptr : it->second.lock();
}

void FileCache::RememberPin(const std::string& name, const PinPtr& pin) {
  std::lock_guard lock(mutex_);
  pins_[name] = pin;
  if (pins_.size() > pin_sweep_size_) {
    std::erase_if(pins_, [](const auto& entry) { return entry.second.expired(); });
    pin_sweep_size_ = std::max<size_t>(64, 2 * pins_.size());
  }
}

absl::StatusOr<CachedFile> FileCache::Fetch(ObjectStore& store, std::string_view key) {
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(ObjectInfo info, store.Stat(key));
    absl::StatusOr<CachedFile> file = Fetch(store, info);
    // Aborted: replaced during the download; the next Stat sees the new version.
    if (file.ok() || !absl::IsAborted(file.status()) || attempt == 2) return file;
  }
}

absl::StatusOr<CachedFile> FileCache::Fetch(ObjectStore& store, const ObjectInfo& expected) {
  RETURN_IF_ERROR(ValidateObjectKey(expected.key));
  if (expected.etag.empty() || expected.size_bytes < 0) {
    return absl::InvalidArgumentError(fmt::format(
        "file cache: object '{}' needs a version tag (etag) and a size, got etag '{}' and {} "
        "bytes; take them from ObjectStore::Stat or List",
        expected.key, expected.etag, expected.size_bytes));
  }
  const std::string name = EntryFileName(store.Describe(), expected);
  const std::string path = PathOf(name);
  auto hit = [&](PinPtr pin) {
    hits_.fetch_add(1);
    TouchAccessTime(path);
    return CachedFile(path, expected, std::move(pin));
  };

  for (int attempt = 1; attempt <= kMaxPinAttempts; ++attempt) {
    if (PinPtr pin = FindPin(name)) return hit(std::move(pin));
    ASSIGN_OR_RETURN(PinPtr existing, PinExisting(name, expected));
    if (existing) {
      RememberPin(name, existing);
      return hit(std::move(existing));
    }

    // A miss: join this process's download of the entry, or lead one.
    std::shared_ptr<Flight> flight;
    {
      std::unique_lock lock(mutex_);
      if (auto it = flights_.find(name); it != flights_.end()) {
        flight = it->second;
        flight->finished.wait(lock, [&] { return flight->done; });
        if (!flight->result.ok()) return flight->result.status();
        if (PinPtr pin = *flight->result) {
          lock.unlock();
          return hit(std::move(pin));
        }
        continue;  // Another process's copy won the rename and vanished again.
      }
      flight = std::make_shared<Flight>();
      flights_[name] = flight;
    }

    bool downloaded = false;
    absl::StatusOr<PinPtr> result = FindPin(name);
    if (!*result) result = PinExisting(name, expected);
    if (result.ok() && !*result) {
      result = Download(store, expected, name);
      downloaded = true;
    }
    {
      std::lock_guard lock(mutex_);
      flight->done = true;
      flight->result = result;
      flights_.erase(name);
    }
    flight->finished.notify_all();
    if (!result.ok()) return result.status();
    if (PinPtr pin = *std::move(result)) {
      RememberPin(name, pin);
      if (!downloaded) return hit(std::move(pin));
      TouchAccessTime(path);
      return CachedFile(path, expected, std::move(pin));
    }
  }
  return absl::UnavailableError(fmt::format(
      "file cache: object '{}' was evicted {} times before it could be pinned; the cache in '{}' "
      "({} bytes) is too small for the processes sharing it; raise its size limit",
      expected.key, kMaxPinAttempts, directory_, options_.max_bytes));
}

absl::StatusOr<FileCache::PinPtr> FileCache::PinExisting(const std::string& name,
                                                         const ObjectInfo& expected) {
  const std::string path = PathOf(name);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return PinPtr();
    return ErrnoStatus(errno, fmt::format("file cache: cannot open '{}'", path));
  }
  if (Flock(fd.get(), LOCK_SH) != 0) {
    return ErrnoStatus(errno, fmt::format("file cache: cannot lock '{}'", path));
  }
  // An eviction may have deleted the file between open() and flock().
  struct stat held, named;
  if (::fstat(fd.get(), &held) != 0) {
    return ErrnoStatus(errno, fmt::format("file cache: cannot stat '{}'", path));
  }
  if (::stat(path.c_str(), &named) != 0) {
    if (errno == ENOENT) return PinPtr();
    return ErrnoStatus(errno, fmt::format("file cache: cannot stat '{}'", path));
  }
  if (held.st_ino != named.st_ino || held.st_dev != named.st_dev) return PinPtr();
  if (held.st_size == expected.size_bytes) {
    return std::make_shared<const CachedFile::Pin>(fd.release());
  }

  // Entries are complete when renamed into place, so the file was damaged
  // outside shardlake: delete it unless another reader holds it.
  fd.reset();
  RemoveResult removed = RemoveResult::kPinned;
  RETURN_IF_ERROR(WithDirectoryLock([&]() -> absl::Status {
    ASSIGN_OR_RETURN(removed, RemoveUnlessPinned(name));
    return absl::OkStatus();
  }));
  if (removed == RemoveResult::kPinned) {
    return absl::DataLossError(fmt::format(
        "file cache: '{}' (object '{}') has {} bytes instead of {} and is in use; it was changed "
        "outside shardlake; retry once its readers finish",
        path, expected.key, static_cast<int64_t>(held.st_size), expected.size_bytes));
  }
  return PinPtr();
}

absl::StatusOr<FileCache::PinPtr> FileCache::Download(ObjectStore& store,
                                                      const ObjectInfo& expected,
                                                      const std::string& name) {
  if (expected.size_bytes > options_.max_bytes) {
    return absl::ResourceExhaustedError(fmt::format(
        "file cache: object '{}' in {} has {} bytes, more than the whole cache in '{}' ({} "
        "bytes); raise the cache size limit",
        expected.key, store.Describe(), expected.size_bytes, directory_, options_.max_bytes));
  }
  RETURN_IF_ERROR(Sweep(expected.size_bytes, ""));
  misses_.fetch_add(1);

  const std::string temp =
      fmt::format("{}/{}{}{}", directory_, kTempPrefix, NewUuid(), kTempSuffix);
  UniqueFd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    failed_downloads_.fetch_add(1);
    return ErrnoStatus(errno, fmt::format("file cache: cannot create '{}'", temp));
  }
  // The shared lock tells sweeps that the download is alive (so its temp file
  // is not a crash leftover), and becomes the entry's pin after the rename.
  absl::Status status;
  if (Flock(fd.get(), LOCK_SH) != 0) {
    status = ErrnoStatus(errno, fmt::format("file cache: cannot lock '{}'", temp));
  }
  if (status.ok()) status = DownloadInto(store, expected, fd.get(), temp);
  if (status.ok() && ::fsync(fd.get()) != 0) {
    status = ErrnoStatus(errno, fmt::format("file cache: cannot fsync '{}'", temp));
  }
  absl::StatusOr<bool> renamed = false;
  if (status.ok()) {
    renamed = RenameNoReplace(temp, PathOf(name));
    status = renamed.status();
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    failed_downloads_.fetch_add(1);
    return status;
  }
  if (!*renamed) {
    ::unlink(temp.c_str());  // Another process cached the same version first.
    return PinPtr();
  }
  PinPtr pin = std::make_shared<const CachedFile::Pin>(fd.release());
  // Now that this version is known to be current, older ones can go. Best
  // effort: the entry is in place, and a later sweep retries what fails.
  Sweep(0, name).IgnoreError();
  return pin;
}

absl::Status FileCache::DownloadInto(ObjectStore& store, const ObjectInfo& expected, int fd,
                                     const std::string& temp_path) {
  const std::string& key = expected.key;
  int64_t received = 0;
  while (received < expected.size_bytes) {
    const int64_t wanted = std::min(options_.download_chunk_bytes, expected.size_bytes - received);
    // Written straight into the temp file: a backend that streams (S3) never
    // holds the chunk in memory.
    absl::StatusOr<int64_t> written = store.GetRangeToFd(key, received, wanted, fd, received);
    // OutOfRange: the object is shorter than expected, reported below.
    if (!written.ok() && absl::IsOutOfRange(written.status())) break;
    if (!written.ok()) {
      return WithContext(
          written.status(),
          fmt::format("file cache: cannot download object '{}' from {} into '{}' "
                      "(at byte {} of {})",
                      key, store.Describe(), temp_path, received, expected.size_bytes));
    }
    const int64_t length = *written;
    bytes_downloaded_.fetch_add(length);
    if (length > wanted) {
      return absl::DataLossError(fmt::format(
          "file cache: {} returned {} bytes of object '{}' at byte {} where {} were asked for; "
          "nothing was cached",
          store.Describe(), length, key, received, wanted));
    }
    received += length;
    if (length < wanted) break;  // The object ended early.
  }

  // The bytes are the expected version only if the store still holds it: a
  // replacement during the download could have mixed two versions.
  absl::StatusOr<ObjectInfo> now = store.Stat(key);
  if (!now.ok()) {
    return WithContext(now.status(), fmt::format("file cache: cannot check object '{}' in {} after "
                                                 "downloading it; nothing was cached",
                                                 key, store.Describe()));
  }
  if (now->etag != expected.etag || now->size_bytes != expected.size_bytes) {
    return absl::AbortedError(fmt::format(
        "file cache: object '{}' in {} changed while it was downloaded (etag {} and {} bytes "
        "expected, etag {} and {} bytes now); nothing was cached; fetch it again",
        key, store.Describe(), expected.etag, expected.size_bytes, now->etag, now->size_bytes));
  }
  if (received != expected.size_bytes) {
    return absl::DataLossError(fmt::format(
        "file cache: {} returned {} of the {} bytes of object '{}' (a truncated download); "
        "nothing was cached; retry, and check the store if this persists",
        store.Describe(), received, expected.size_bytes, key));
  }
  return absl::OkStatus();
}

absl::Status FileCache::Trim() { return Sweep(0, ""); }

absl::Status FileCache::WithDirectoryLock(const std::function<absl::Status()>& body) {
  std::lock_guard guard(directory_mutex_);
  if (Flock(lock_fd_, LOCK_EX) != 0) {
    return ErrnoStatus(errno,
                       fmt::format("file cache: cannot lock '{}/{}'", directory_, kLockFileName));
  }
  absl::Status status = body();
  Flock(lock_fd_, LOCK_UN);
  return status;
}

absl::StatusOr<FileCache::RemoveResult> FileCache::RemoveUnlessPinned(const std::string& name) {
  const std::string path = PathOf(name);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return RemoveResult::kVanished;
    return ErrnoStatus(errno, fmt::format("file cache: cannot open '{}' to evict it", path));
  }
  if (Flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return RemoveResult::kPinned;
    return ErrnoStatus(errno, fmt::format("file cache: cannot lock '{}' to evict it", path));
  }
  // Deleters hold the directory lock and writers never replace an entry, so
  // `path` still names the file locked above.
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return RemoveResult::kVanished;
    return ErrnoStatus(errno, fmt::format("file cache: cannot delete '{}'", path));
  }
  return RemoveResult::kRemoved;
}

absl::Status FileCache::Sweep(int64_t incoming_bytes, const std::string& fresh_name) {
  return WithDirectoryLock([&]() -> absl::Status {
    struct Entry {
      std::string name;
      int64_t size;
      struct timespec accessed;
    };
    std::vector<Entry> entries;
    int64_t total = 0;
    const auto now = std::chrono::system_clock::now();

    DirHandle dir(::opendir(directory_.c_str()));
    if (!dir) return DirectoryError(errno, directory_, "cannot list it");
    while (true) {
      errno = 0;
      const struct dirent* dirent = ::readdir(dir.get());
      if (dirent == nullptr) {
        if (errno != 0) return DirectoryError(errno, directory_, "cannot list it");
        break;
      }
      std::string_view name = dirent->d_name;
      const bool is_entry = IsEntryName(name);
      if (!is_entry && !IsTempName(name)) continue;
      struct stat info;
      if (::fstatat(::dirfd(dir.get()), dirent->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // Evicted or renamed by another process.
        return ErrnoStatus(errno,
                           fmt::format("file cache: cannot stat '{}'", PathOf(dirent->d_name)));
      }
      if (!S_ISREG(info.st_mode)) continue;
      if (is_entry) {
        entries.push_back({std::string(name), static_cast<int64_t>(info.st_size), info.st_atim});
        total += info.st_size;
        continue;
      }
      // A temp file: a download in progress (counted) or a crash leftover.
      const auto modified =
          std::chrono::system_clock::time_point(std::chrono::seconds(info.st_mtim.tv_sec) +
                                                std::chrono::nanoseconds(info.st_mtim.tv_nsec));
      const std::string path = PathOf(dirent->d_name);
      if (now - modified >= options_.stale_temp_age) {
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (fd.valid() && Flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
          ::unlink(path.c_str());  // No live download holds it.
          continue;
        }
      }
      total += info.st_size;
    }

    // Other versions of a freshly downloaded key go first, whatever their age.
    auto removed_or_gone = [&](const Entry& entry,
                               std::atomic<int64_t>& counter) -> absl::StatusOr<bool> {
      ASSIGN_OR_RETURN(RemoveResult result, RemoveUnlessPinned(entry.name));
      if (result == RemoveResult::kPinned) return false;
      if (result == RemoveResult::kRemoved) counter.fetch_add(1);
      total -= entry.size;
      return true;
    };
    std::vector<Entry> candidates;
    for (Entry& entry : entries) {
      if (entry.name == fresh_name) continue;  // Pinned by the caller.
      if (!fresh_name.empty() && KeyPartOf(entry.name) == KeyPartOf(fresh_name)) {
        ASSIGN_OR_RETURN(bool gone, removed_or_gone(entry, stale_removed_));
        if (gone) continue;
      }
      candidates.push_back(std::move(entry));
    }

    std::sort(candidates.begin(), candidates.end(), [](const Entry& a, const Entry& b) {
      if (a.accessed.tv_sec != b.accessed.tv_sec) return a.accessed.tv_sec < b.accessed.tv_sec;
      if (a.accessed.tv_nsec != b.accessed.tv_nsec) return a.accessed.tv_nsec < b.accessed.tv_nsec;
      return a.name < b.name;
    });
    for (const Entry& entry : candidates) {
      if (total + incoming_bytes <= options_.max_bytes) break;
      // A pinned entry stays; the next one is tried.
      RETURN_IF_ERROR(removed_or_gone(entry, evictions_).status());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> ReadablePath(ObjectStore& store, FileCache* cache, std::string_view key,
                                         std::vector<CachedFile>* pins) {
  if (std::optional<std::string> local = store.LocalPath(key)) return *std::move(local);
  if (cache == nullptr) {
    return absl::FailedPreconditionError(
        fmt::format("{} keeps no local files and no file cache is configured to copy '{}' into",
                    store.Describe(), key));
  }
  ASSIGN_OR_RETURN(CachedFile file, cache->Fetch(store, key));
  std::string path = file.path();
  pins->push_back(std::move(file));
  return path;
}

}  // namespace shardlake
