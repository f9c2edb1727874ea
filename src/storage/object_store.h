// ObjectStore: the interface to where Parquet files live (a local directory, an
// S3 bucket, memory for unit tests). Keys are relative, '/'-separated paths such
// as "metrics/cpu/date=2026-01-01/hour=05/<uuid>.1.parquet"; a key never starts
// with '/', never contains "." or ".." segments or empty segments, and never
// ends with '/'. Invalid keys are rejected with InvalidArgument.
//
// Semantics every backend provides (checked by object_store_conformance_test):
// - Writes are atomic: a reader sees either no object or the whole object, never
//   a partial one, and a Put that fails leaves no object behind.
// - A successful Put is durable (fsync'd, or acknowledged by the server).
// - Get/Size/GetRange of a missing key is NotFound; Delete of a missing key is OK
//   (deletes are idempotent).
// - List returns keys in lexicographic order.
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shardlake {

struct ObjectInfo {
  std::string key;
  int64_t size_bytes = 0;
  // An opaque version tag that changes whenever the object is replaced (the S3
  // ETag; size, mtime and inode for a local file; a generation in memory).
  // Equal tags and sizes mean the same bytes, so caches key on both.
  std::string etag;
  bool operator==(const ObjectInfo&) const = default;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // The URI this store was opened with (secrets redacted), for messages.
  virtual std::string Describe() const = 0;

  // Stores `data` under `key`, replacing any existing object atomically.
  virtual absl::Status Put(std::string_view key, std::string_view data) = 0;

  // Stores the contents of the local file `local_path` under `key`. When
  // `consume` is true the store may move the file instead of copying it (the
  // caller must not use `local_path` afterwards, whatever the outcome).
  // Errors: NotFound if `local_path` does not exist.
  virtual absl::Status PutFile(std::string_view key, const std::string& local_path,
                               bool consume) = 0;

  // The whole object.
  virtual absl::StatusOr<std::string> Get(std::string_view key) = 0;

  // `length` bytes starting at `offset`; shorter if the object ends first.
  // Errors: OutOfRange if `offset` is past the end.
  virtual absl::StatusOr<std::string> GetRange(std::string_view key, int64_t offset,
                                               int64_t length) = 0;

  // GetRange's bytes written into the open file `fd` at `file_offset` (with
  // pwrite: fd's file position is neither used nor moved) instead of returned;
  // the number of bytes written. A backend may stream them without holding the
  // range in memory (S3 does); the default calls GetRange. The caller keeps
  // `fd` open during the call. Errors: those of GetRange, and the errno status
  // when writing to `fd` fails. After a failure some of the range may have
  // been written.
  virtual absl::StatusOr<int64_t> GetRangeToFd(std::string_view key, int64_t offset, int64_t length,
                                               int fd, int64_t file_offset);

  // Key, size and version tag of one object. Errors: NotFound.
  virtual absl::StatusOr<ObjectInfo> Stat(std::string_view key) = 0;

  // Size in bytes (Stat's size_bytes). Errors: NotFound.
  absl::StatusOr<int64_t> Size(std::string_view key);

  virtual absl::StatusOr<bool> Exists(std::string_view key) = 0;

  // Every object whose key starts with `prefix` (a plain string prefix, not a
  // folder: "a/b" matches "a/b/c" and "a/bc"), sorted by key, each with the
  // same etag that Stat would return.
  virtual absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;

  // Deletes each key; missing keys are not an error. On failure some keys may
  // have been deleted and the error names the first key that could not be.
  virtual absl::Status Delete(const std::vector<std::string>& keys) = 0;

  // A path that DuckDB can read directly (a local file), or nullopt when the
  // store is remote or in memory and the object must be fetched first.
  virtual std::optional<std::string> LocalPath(std::string_view key) const = 0;
};

// Checks `key` against the key rules above. InvalidArgument names the problem.
absl::Status ValidateObjectKey(std::string_view key);

// Opens a store from a URI:
//   file:///abs/dir or file:relative/dir  -> a local directory (created if missing)
//   memory://name                         -> an in-process store; the same name in
//                                            one process opens the same objects
//   s3://bucket/prefix?endpoint=...       -> an S3-compatible bucket (AWS, Ceph RGW,
//                                            MinIO); see s3_object_store.h for the
//                                            options and credentials
// Errors: InvalidArgument for an unknown scheme (the message lists the known
// ones), FailedPrecondition / PermissionDenied when a directory cannot be used.
absl::StatusOr<std::unique_ptr<ObjectStore>> OpenObjectStore(std::string_view uri);

// Registers a backend for `scheme` (used by later backends such as s3://).
using ObjectStoreFactory =
    std::function<absl::StatusOr<std::unique_ptr<ObjectStore>>(std::string_view uri)>;
void RegisterObjectStoreScheme(const std::string& scheme, ObjectStoreFactory factory);

}  // namespace shardlake
