#include "storage/memory_object_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <system_error>
#include <utility>

#include "common/errno_status.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "fmt/format.h"

namespace shardlake {

// The objects of one named store. Values are immutable once stored, so readers
// copy them outside the lock.
struct MemoryObjectStore::Bucket {
  mutable std::mutex mutex;
  std::map<std::string, std::shared_ptr<const std::string>> objects;
  std::map<std::string, uint64_t> generations;  // etag source, bumped by each Put
  uint64_t next_generation = 1;
};

namespace {

absl::Status ValidatePrefix(std::string_view prefix) {
  if (prefix.empty()) return absl::OkStatus();
  // A prefix is valid when some valid key can start with it.
  if (!ValidateObjectKey(std::string(prefix) + "x").ok()) {
    return absl::InvalidArgumentError(
        fmt::format("list prefix '{}' can match no valid object key", prefix));
  }
  return absl::OkStatus();
}

// Reads the whole regular file at `path`.
absl::StatusOr<std::string> ReadLocalFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, fmt::format("cannot open '{}'", path));
  std::string data;
  char buffer[1 << 16];
  absl::Status status;
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoStatus(errno, fmt::format("cannot read '{}'", path));
      break;
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!status.ok()) return status;
  return data;
}

}  // namespace

std::shared_ptr<MemoryObjectStore::Bucket> MemoryObjectStore::FindOrCreateBucket(
    const std::string& name) {
  // Process-wide and never freed, so stores may be opened during shutdown.
  static std::mutex* const mutex = new std::mutex();
  static auto* const buckets = new std::map<std::string, std::shared_ptr<Bucket>>();
  std::lock_guard<std::mutex> lock(*mutex);
  std::shared_ptr<Bucket>& bucket = (*buckets)[name];
  if (bucket == nullptr) bucket = std::make_shared<Bucket>();
  return bucket;
}

MemoryObjectStore::MemoryObjectStore(std::string name, std::shared_ptr<Bucket> bucket)
    : name_(std::move(name)), bucket_(std::move(bucket)) {}

MemoryObjectStore::~MemoryObjectStore() = default;

absl::StatusOr<std::unique_ptr<MemoryObjectStore>> MemoryObjectStore::Open(std::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("memory object store needs a name (e.g. memory://test)");
  }
  std::string owned_name(name);
  std::shared_ptr<Bucket> bucket = FindOrCreateBucket(owned_name);
  return std::unique_ptr<MemoryObjectStore>(
      new MemoryObjectStore(std::move(owned_name), std::move(bucket)));
}

absl::StatusOr<std::unique_ptr<MemoryObjectStore>> MemoryObjectStore::OpenUri(
    std::string_view uri) {
  ASSIGN_OR_RETURN(Uri parsed, ParseUri(uri));
  if (parsed.scheme != "memory") {
    return absl::InvalidArgumentError(
        fmt::format("'{}' is not a memory:// URI", parsed.Redacted()));
  }
  if (!parsed.query.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': memory:// takes no query parameters", parsed.Redacted()));
  }
  std::string name = parsed.host + parsed.path;
  if (name.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': memory:// needs a name (e.g. memory://test)", parsed.Redacted()));
  }
  return Open(name);
}

std::string MemoryObjectStore::Describe() const { return "memory://" + name_; }

absl::Status MemoryObjectStore::Put(std::string_view key, std::string_view data) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  auto value = std::make_shared<const std::string>(data);
  std::lock_guard<std::mutex> lock(bucket_->mutex);
  bucket_->objects[std::string(key)] = std::move(value);
  bucket_->generations[std::string(key)] = bucket_->next_generation++;
  return absl::OkStatus();
}

absl::Status MemoryObjectStore::PutFile(std::string_view key, const std::string& local_path,
                                        bool consume) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  auto data = ReadLocalFile(local_path);
  if (!data.ok()) {
    return absl::Status(data.status().code(), fmt::format("put '{}' from file: {}", key,
                                                          std::string(data.status().message())));
  }
  RETURN_IF_ERROR(Put(key, *data));
  if (consume) ::unlink(local_path.c_str());  // Best effort: the caller gave the file up.
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const std::string>> MemoryObjectStore::Find(
    std::string_view key) const {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  std::lock_guard<std::mutex> lock(bucket_->mutex);
  auto it = bucket_->objects.find(std::string(key));
  if (it == bucket_->objects.end()) {
    return absl::NotFoundError(fmt::format("object '{}' not found in {}", key, Describe()));
  }
  return it->second;
}

absl::StatusOr<std::string> MemoryObjectStore::Get(std::string_view key) {
  ASSIGN_OR_RETURN(std::shared_ptr<const std::string> value, Find(key));
  return *value;
}

absl::StatusOr<std::string> MemoryObjectStore::GetRange(std::string_view key, int64_t offset,
                                                        int64_t length) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  if (offset < 0 || length < 0) {
    return absl::InvalidArgumentError(fmt::format(
        "get range of '{}': offset {} and length {} must not be negative", key, offset, length));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const std::string> value, Find(key));
  const auto size = static_cast<int64_t>(value->size());
  if (offset > size) {
    return absl::OutOfRangeError(
        fmt::format("get range of '{}': offset {} is past the end of the object ({} bytes)", key,
                    offset, size));
  }
  return value->substr(static_cast<size_t>(offset),
                       static_cast<size_t>(std::min(length, size - offset)));
}

absl::StatusOr<ObjectInfo> MemoryObjectStore::Stat(std::string_view key) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  std::lock_guard<std::mutex> lock(bucket_->mutex);
  auto it = bucket_->objects.find(std::string(key));
  if (it == bucket_->objects.end()) {
    return absl::NotFoundError(fmt::format("object '{}' not found in {}", key, Describe()));
  }
  return InfoOf(*it);
}

absl::StatusOr<bool> MemoryObjectStore::Exists(std::string_view key) {
  auto value = Find(key);
  if (value.ok()) return true;
  if (absl::IsNotFound(value.status())) return false;
  return value.status();
}

absl::StatusOr<std::vector<ObjectInfo>> MemoryObjectStore::List(std::string_view prefix) {
  RETURN_IF_ERROR(ValidatePrefix(prefix));
  std::vector<ObjectInfo> result;
  std::string prefix_string(prefix);
  std::lock_guard<std::mutex> lock(bucket_->mutex);
  for (auto it = bucket_->objects.lower_bound(prefix_string);
       it != bucket_->objects.end() && it->first.starts_with(prefix_string); ++it) {
    result.push_back(InfoOf(*it));
  }
  return result;
}

absl::Status MemoryObjectStore::Delete(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) RETURN_IF_ERROR(ValidateObjectKey(key));
  std::lock_guard<std::mutex> lock(bucket_->mutex);
  for (const std::string& key : keys) {
    bucket_->objects.erase(key);
    bucket_->generations.erase(key);
  }
  return absl::OkStatus();
}

ObjectInfo MemoryObjectStore::InfoOf(
    const std::pair<const std::string, std::shared_ptr<const std::string>>& object) const {
  return ObjectInfo{object.first, static_cast<int64_t>(object.second->size()),
                    fmt::format("mem-{}", bucket_->generations.at(object.first))};
}

std::optional<std::string> MemoryObjectStore::LocalPath(std::string_view key) const {
  return std::nullopt;
}

}  // namespace shardlake
