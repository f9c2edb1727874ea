#include "storage/object_store.h"

#include <map>
#include <mutex>
#include <utility>

#include "common/errno_status.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "fmt/format.h"
#include "storage/local_object_store.h"
#include "storage/memory_object_store.h"
#include "storage/s3_object_store.h"

namespace shardlake {
namespace {

// Maps a scheme ("file", "memory", ...) to the factory that opens it. The
// built-in backends are registered by the constructor rather than by static
// initializers, which the linker would drop from a static library.
class SchemeRegistry {
 public:
  static SchemeRegistry& Instance() {
    static SchemeRegistry* const registry = new SchemeRegistry();
    return *registry;
  }

  void Register(const std::string& scheme, ObjectStoreFactory factory) {
    std::lock_guard<std::mutex> lock(mutex_);
    factories_[scheme] = std::move(factory);
  }

  // The factory for `scheme`, or nullopt. Copied so that it runs unlocked.
  std::optional<ObjectStoreFactory> Find(const std::string& scheme) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = factories_.find(scheme);
    if (it == factories_.end()) return std::nullopt;
    return it->second;
  }

  // "file, memory, ..." in sorted order.
  std::string KnownSchemes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& [scheme, factory] : factories_) {
      if (!out.empty()) out += ", ";
      out += scheme;
    }
    return out;
  }

 private:
  SchemeRegistry() {
    factories_["file"] = [](std::string_view uri) -> absl::StatusOr<std::unique_ptr<ObjectStore>> {
      auto store = LocalObjectStore::OpenUri(uri);
      if (!store.ok()) return store.status();
      return std::unique_ptr<ObjectStore>(std::move(*store));
    };
    factories_["memory"] =
        [](std::string_view uri) -> absl::StatusOr<std::unique_ptr<ObjectStore>> {
      auto store = MemoryObjectStore::OpenUri(uri);
      if (!store.ok()) return store.status();
      return std::unique_ptr<ObjectStore>(std::move(*store));
    };
    factories_["s3"] = [](std::string_view uri) -> absl::StatusOr<std::unique_ptr<ObjectStore>> {
      auto store = S3ObjectStore::OpenUri(uri);
      if (!store.ok()) return store.status();
      return std::unique_ptr<ObjectStore>(std::move(*store));
    };
  }

  mutable std::mutex mutex_;
  std::map<std::string, ObjectStoreFactory> factories_;
};

std::string ToLower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

}  // namespace

absl::StatusOr<int64_t> ObjectStore::Size(std::string_view key) {
  ASSIGN_OR_RETURN(ObjectInfo info, Stat(key));
  return info.size_bytes;
}

absl::StatusOr<int64_t> ObjectStore::GetRangeToFd(std::string_view key, int64_t offset,
                                                  int64_t length, int fd, int64_t file_offset) {
  ASSIGN_OR_RETURN(std::string data, GetRange(key, offset, length));
  RETURN_IF_ERROR(
      WriteAllAt(fd, data, file_offset, fmt::format("get range of '{}' from {}", key, Describe())));
  return static_cast<int64_t>(data.size());
}

absl::Status ValidateObjectKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("object key is empty");
  if (key.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("object key '{}' contains a NUL byte",
                                                  std::string(key.substr(0, key.find('\0')))));
  }
  if (key.front() == '/') {
    return absl::InvalidArgumentError(
        fmt::format("object key '{}' must be relative (it starts with '/')", key));
  }
  if (key.back() == '/') {
    return absl::InvalidArgumentError(fmt::format("object key '{}' must not end with '/'", key));
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t slash = key.find('/', start);
    if (slash == std::string_view::npos) slash = key.size();
    std::string_view segment = key.substr(start, slash - start);
    if (segment.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("object key '{}' contains an empty segment ('//')", key));
    }
    if (segment == "." || segment == "..") {
      return absl::InvalidArgumentError(
          fmt::format("object key '{}' contains a '{}' segment", key, segment));
    }
    start = slash + 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenObjectStore(std::string_view uri) {
  SchemeRegistry& registry = SchemeRegistry::Instance();
  auto parsed = ParseUri(uri);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("cannot open object store: {} (known schemes: {})",
                    std::string(parsed.status().message()), registry.KnownSchemes()));
  }
  std::optional<ObjectStoreFactory> factory = registry.Find(parsed->scheme);
  if (!factory.has_value()) {
    return absl::InvalidArgumentError(
        fmt::format("cannot open object store '{}': unknown scheme '{}' (known schemes: {})",
                    parsed->Redacted(), parsed->scheme, registry.KnownSchemes()));
  }
  return (*factory)(uri);
}

void RegisterObjectStoreScheme(const std::string& scheme, ObjectStoreFactory factory) {
  SchemeRegistry::Instance().Register(ToLower(scheme), std::move(factory));
}

}  // namespace shardlake
