// MemoryObjectStore: the `memory://name` backend, an in-process store for unit
// tests and throwaway sessions. Every store opened with the same name in one
// process shares the same objects (the named buckets live for the whole
// process); different names are independent. Nothing is persisted.
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/object_store.h"

namespace shardlake {

class MemoryObjectStore final : public ObjectStore {
 public:
  // Opens the bucket `name`, creating it empty on first use.
  // Errors: InvalidArgument if `name` is empty.
  static absl::StatusOr<std::unique_ptr<MemoryObjectStore>> Open(std::string_view name);

  // Opens `memory://name`. Errors: InvalidArgument for another scheme, a
  // missing name, or query parameters.
  static absl::StatusOr<std::unique_ptr<MemoryObjectStore>> OpenUri(std::string_view uri);

  ~MemoryObjectStore() override;

  std::string Describe() const override;
  absl::Status Put(std::string_view key, std::string_view data) override;
  // Reads `local_path` into memory; with `consume` the file is removed after a
  // successful Put.
  absl::Status PutFile(std::string_view key, const std::string& local_path, bool consume) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::StatusOr<std::string> GetRange(std::string_view key, int64_t offset,
                                       int64_t length) override;
  absl::StatusOr<ObjectInfo> Stat(std::string_view key) override;
  absl::StatusOr<bool> Exists(std::string_view key) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  absl::Status Delete(const std::vector<std::string>& keys) override;
  // Always nullopt: objects live in memory.
  std::optional<std::string> LocalPath(std::string_view key) const override;

 private:
  struct Bucket;
  MemoryObjectStore(std::string name, std::shared_ptr<Bucket> bucket);

  // The process-wide bucket called `name`, created empty on first use.
  static std::shared_ptr<Bucket> FindOrCreateBucket(const std::string& name);

  // Returns the object's bytes (shared, immutable) or NotFound.
  absl::StatusOr<std::shared_ptr<const std::string>> Find(std::string_view key) const;
  // The ObjectInfo of a stored object; the bucket's mutex must be held.
  ObjectInfo InfoOf(
      const std::pair<const std::string, std::shared_ptr<const std::string>>& object) const;

  std::string name_;
  std::shared_ptr<Bucket> bucket_;
};

}  // namespace shardlake
