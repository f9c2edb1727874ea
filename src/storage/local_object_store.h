// LocalObjectStore: the `file://` backend, objects stored as plain files under a
// root directory (key "a/b.parquet" is the file <root>/a/b.parquet), so DuckDB
// reads them in place through LocalPath().
//
// Writes are atomic and durable: the data goes to a temp file next to the
// target (".<name>.tmp.<uuid>"), which is fsync'd, renamed over the target, and
// the directory is fsync'd. A crashed writer can leave such temp files behind;
// List() never reports them and keys whose segments look like temp files (start
// with '.' and contain ".tmp.") are rejected with InvalidArgument. Folders are
// created on demand and removed by Delete() when they become empty.
//
// Errors name the key and the file and carry strerror: ENOENT -> NotFound,
// EACCES/EPERM/EROFS -> PermissionDenied, ENOSPC/EDQUOT -> ResourceExhausted,
// ENOTDIR/EISDIR (an object where a folder should be, or vice versa) ->
// FailedPrecondition, EIO and similar -> Unavailable, anything else -> Internal.
//
// Thread-safety: all methods may be called concurrently from any thread, and
// from several processes sharing the root.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/object_store.h"

namespace shardlake {

class LocalObjectStore final : public ObjectStore {
 public:
  // Opens the directory `root` (absolute, or relative to the current
  // directory, which is resolved now), creating it and its parents if missing,
  // and checks that a file can be created in it.
  // Errors: InvalidArgument if `root` is empty; PermissionDenied if the
  // directory cannot be created or written for lack of permission;
  // FailedPrecondition otherwise (e.g. a path component is a regular file). The
  // message is one line naming the directory.
  static absl::StatusOr<std::unique_ptr<LocalObjectStore>> Open(const std::string& root);

  // Opens `file:///abs/dir`, `file://localhost/abs/dir` or `file:relative/dir`.
  // Errors: as Open(), plus InvalidArgument for another scheme, a host other
  // than localhost, an empty path or query parameters.
  static absl::StatusOr<std::unique_ptr<LocalObjectStore>> OpenUri(std::string_view uri);

  // True for names a writer uses for its temp files: ".<name>.tmp.<uuid>".
  static bool IsTempFileName(std::string_view file_name);

  // The absolute, normalized root directory.
  const std::string& root() const { return root_; }

  std::string Describe() const override;
  absl::Status Put(std::string_view key, std::string_view data) override;
  // With `consume`, the file is fsync'd and renamed into place when it is on the
  // same filesystem as the root, else copied and then removed.
  absl::Status PutFile(std::string_view key, const std::string& local_path, bool consume) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::StatusOr<std::string> GetRange(std::string_view key, int64_t offset,
                                       int64_t length) override;
  absl::StatusOr<ObjectInfo> Stat(std::string_view key) override;
  absl::StatusOr<bool> Exists(std::string_view key) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  absl::Status Delete(const std::vector<std::string>& keys) override;
  // <root>/<key>; nullopt for an invalid key. The file may not exist.
  std::optional<std::string> LocalPath(std::string_view key) const override;

 private:
  LocalObjectStore(std::string root, std::string description);

  // <root>/<relative>; `relative` may be empty (the root itself).
  std::string PathOf(std::string_view relative) const;
  // The directory holding `key`'s file.
  std::string DirectoryOf(std::string_view key) const;

  // Creates the folders above `key`, fsyncing each parent that gained one.
  absl::Status MakeParentDirectories(std::string_view key) const;

  // Writes `key` via a temp file filled by `fill(fd, temp_path)`, then fsync,
  // rename and directory fsync. On failure the temp file is removed.
  absl::Status WriteAtomically(
      std::string_view key,
      const std::function<absl::Status(int fd, const std::string& temp_path)>& fill);

  // Moves `local_path` (already fsync'd) onto `key`. Sets `*cross_device` and
  // returns OK without doing anything when the rename would cross filesystems.
  absl::Status RenameInto(std::string_view key, const std::string& local_path, bool* cross_device);

  // Appends every object under `directory` (whose key prefix is `key_prefix`,
  // "" or ending in '/') whose key starts with `prefix`.
  absl::Status ListDirectory(const std::string& directory, const std::string& key_prefix,
                             std::string_view prefix, std::vector<ObjectInfo>* out) const;

  std::string root_;         // Absolute, normalized, no trailing '/' unless "/".
  std::string root_slash_;   // root_ followed by exactly one '/'.
  std::string description_;  // For Describe().
};

}  // namespace shardlake
