// FileCache: local copies of ObjectStore objects, for readers that need a file
// path (DuckDB reads local files only), kept under a size limit.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<FileCache> cache,
//                    FileCache::Open("/var/cache/shardlake", {.max_bytes = 10LL << 30}));
//   ASSIGN_OR_RETURN(CachedFile file, cache->Fetch(store, "m/cpu/date=.../x.1.parquet"));
//   ... read_parquet(file.path()) ...   // `file` pins the entry until it is destroyed
//
// Entries. An entry is one version of one object, identified by (store, key,
// etag, size), the store named by its Describe(), stored as one file in the
// cache directory named
//   k<32 hex: SHA-256 of store and key>-v<16 hex: SHA-256 of store, key, etag
//   and size>-<suffix>
// where <suffix> is the key's last segment with every byte outside
// [A-Za-z0-9._-] replaced by '_', cut to its last 64 characters (so
// "x.1.parquet" keeps its extension). Keys never reach the file system as
// paths, so no key can name a file outside the directory. A replaced object
// has a new etag and therefore a new file name: a stale copy is never served,
// and it is deleted (unless pinned) when the new version is fetched.
//
// Pins. Fetch returns a CachedFile, which pins its entry: while a CachedFile is
// alive, no FileCache in this or any other process sharing the directory
// deletes the entry's file, so its path may be opened at any time. A pin is a
// shared flock(2) on the entry's file; every deletion first takes an exclusive
// non-blocking flock and skips the file if that fails.
//
// Downloads and sharing. Several processes (each with its own FileCache) may
// share one directory, which must be on a local file system (flock and rename
// semantics) and be used by one user. A miss downloads the object in ranged
// gets into a temp file ".download-<uuid>.tmp" in the directory (flock'd while
// it is written), checks that exactly the expected number of bytes arrived and
// that the store still reports the expected etag and size afterwards, fsyncs
// it and renames it into place without replacing an existing entry
// (RENAME_NOREPLACE). So a file under an entry name is always complete, and a
// failed download leaves nothing behind. In one process, concurrent fetches of
// one entry download it once; two processes may both download an entry, and
// the first rename wins. Files that vanish because another process evicted
// them are tolerated.
//
// Sweeps. At Open, before each download and after it, the cache sweeps the
// directory under an exclusive flock on "<directory>/.lock" (one readdir and a
// stat per file, so a miss costs O(entries)). A sweep deletes temp files left
// behind by crashed processes (older than `stale_temp_age` and locked by no
// live download); after a download, the other versions of the downloaded key;
// then the least recently accessed entries (a hit sets the access time with
// utimensat) until the entries, the temp files of downloads in progress and
// the next object fit in `max_bytes`. Pinned entries are never deleted: when
// they alone fill the limit, a new entry is added anyway, and later sweeps (or
// Trim) evict the excess once the pins are released. Downloads running at once
// in several processes can also overshoot the limit briefly. An object larger
// than `max_bytes` is never cached: Fetch fails with ResourceExhausted. Files
// with other names in the directory are neither counted nor deleted.
//
// Thread-safety: FileCache's methods may be called concurrently from any
// thread. A CachedFile is a value used by one thread at a time; it may outlive
// the FileCache that returned it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/object_store.h"

namespace shardlake {

struct FileCacheOptions {
  // The most bytes that entries may occupy (exceeded only as described
  // above). Must be positive.
  int64_t max_bytes = 0;
  // A download asks the store for this many bytes per ranged get, which bounds
  // its memory. Must be positive.
  int64_t download_chunk_bytes = 16 << 20;
  // Open deletes temp files older than this that no live download holds;
  // younger ones may belong to a process that has just created its file.
  std::chrono::seconds stale_temp_age{600};
};

// Counters since Open, for logs and benchmarks.
struct FileCacheStats {
  int64_t hits = 0;              // fetches served by an existing entry (incl. joined downloads)
  int64_t misses = 0;            // downloads started
  int64_t bytes_downloaded = 0;  // bytes received from stores, failed downloads included
  int64_t evictions = 0;         // entries deleted to stay under the limit
  int64_t stale_removed = 0;     // older versions of fetched keys deleted
  int64_t failed_downloads = 0;  // downloads that ended in an error
};

// A pinned cache entry: path() names a complete local copy of info()'s object
// version that stays in place until this CachedFile (and every copy moved from
// it) is destroyed. Move-only.
class CachedFile {
 public:
  CachedFile(CachedFile&&) noexcept = default;
  CachedFile& operator=(CachedFile&&) noexcept = default;
  CachedFile(const CachedFile&) = delete;
  CachedFile& operator=(const CachedFile&) = delete;
  ~CachedFile() = default;

  // Absolute path of the entry's file. Read it; never write, rename or delete it.
  const std::string& path() const { return path_; }
  // The object version the file holds.
  const ObjectInfo& info() const { return info_; }

 private:
  friend class FileCache;
  struct Pin;
  CachedFile(std::string path, ObjectInfo info, std::shared_ptr<const Pin> pin)
      : path_(std::move(path)), info_(std::move(info)), pin_(std::move(pin)) {}

  std::string path_;
  ObjectInfo info_;
  std::shared_ptr<const Pin> pin_;  // shared by every CachedFile of the entry in this process
};

class FileCache;

// A path DuckDB can read for `key`: the store's own local file when it has
// one, else a pinned copy fetched through `cache`, whose pin is appended to
// `pins` (keep them until the reader is done). Errors: FailedPrecondition
// when the store is remote and `cache` is null; those of FileCache::Fetch.
absl::StatusOr<std::string> ReadablePath(ObjectStore& store, FileCache* cache, std::string_view key,
                                         std::vector<CachedFile>* pins);

class FileCache {
 public:
  // Opens (creating it and its parents if missing) the cache directory
  // `directory`, deletes crash leftovers and trims the entries to
  // `options.max_bytes`.
  // Errors: InvalidArgument for an empty directory or a non-positive size or
  // chunk; PermissionDenied / FailedPrecondition (from the file system) when
  // the directory cannot be created or written.
  static absl::StatusOr<std::unique_ptr<FileCache>> Open(const std::string& directory,
                                                         const FileCacheOptions& options);

  ~FileCache();
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // A pinned local copy of the object version `expected` (key, etag and size,
  // e.g. from ObjectStore::Stat or List), downloaded from `store` on a miss.
  // Errors: InvalidArgument for an invalid key, an empty etag or a negative
  // size; ResourceExhausted if the object is larger than max_bytes (or the
  // disk is full); Aborted if the store no longer holds that version (the
  // object was replaced; Stat again and retry); DataLoss if the store returned
  // a different number of bytes than the size it reports; the store's own
  // error (e.g. NotFound, Unavailable) with the key and store named; file
  // system errors. After any error, no file of that download remains.
  absl::StatusOr<CachedFile> Fetch(ObjectStore& store, const ObjectInfo& expected);

  // Stats `key` in `store` and fetches that version. If the object is replaced
  // during the download, stats and downloads once more before failing with
  // Aborted. Other errors as above.
  absl::StatusOr<CachedFile> Fetch(ObjectStore& store, std::string_view key);

  // Evicts least recently used unpinned entries until the entries fit in
  // max_bytes (or only pinned ones remain). Errors: file system errors.
  absl::Status Trim();

  FileCacheStats stats() const;
  const std::string& directory() const { return directory_; }
  int64_t max_bytes() const { return options_.max_bytes; }

  // The file name of the entry for `info` from the store described as
  // `store_description` (ObjectStore::Describe(); see the header comment).
  static std::string EntryFileName(std::string_view store_description, const ObjectInfo& info);

 private:
  struct Flight;
  using PinPtr = std::shared_ptr<const CachedFile::Pin>;
  enum class RemoveResult { kRemoved, kVanished, kPinned };

  FileCache(std::string directory, const FileCacheOptions& options, int lock_fd);

  // The live pin of entry `name` held by this process, or null.
  PinPtr FindPin(const std::string& name);
  // Records `pin` as entry `name`'s pin in this process.
  void RememberPin(const std::string& name, const PinPtr& pin);

  // Pins the existing entry `name` of `expected`; null if there is none (or it
  // vanished while being pinned). An entry file of the wrong size (damaged
  // outside shardlake) is deleted if unpinned and reported as none.
  absl::StatusOr<PinPtr> PinExisting(const std::string& name, const ObjectInfo& expected);

  // Downloads `expected` into entry `name` and pins it; null if another
  // process created the entry first.
  absl::StatusOr<PinPtr> Download(ObjectStore& store, const ObjectInfo& expected,
                                  const std::string& name);
  // Fills the open temp file `fd` with the object; checks sizes and the etag.
  absl::Status DownloadInto(ObjectStore& store, const ObjectInfo& expected, int fd,
                            const std::string& temp_path);

  // One sweep (see the header comment): `fresh_name` is the entry just
  // downloaded (whose other versions go), or empty; `incoming_bytes` the size
  // of the download about to start.
  absl::Status Sweep(int64_t incoming_bytes, const std::string& fresh_name);
  // Deletes entry `name` unless pinned. Requires the directory lock.
  absl::StatusOr<RemoveResult> RemoveUnlessPinned(const std::string& name);

  // Runs `body` holding the directory lock (in-process mutex plus flock).
  absl::Status WithDirectoryLock(const std::function<absl::Status()>& body);

  std::string PathOf(const std::string& name) const { return directory_ + "/" + name; }

  const std::string directory_;  // absolute, normalized
  const FileCacheOptions options_;
  const int lock_fd_;  // "<directory>/.lock", owned

  std::mutex directory_mutex_;  // serializes this process's holders of lock_fd_'s flock

  std::mutex mutex_;  // guards pins_, flights_, pin_sweep_size_
  std::map<std::string, std::weak_ptr<const CachedFile::Pin>> pins_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
  size_t pin_sweep_size_ = 64;  // sweep expired pins_ entries when it grows past this

  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::atomic<int64_t> bytes_downloaded_{0};
  std::atomic<int64_t> evictions_{0};
  std::atomic<int64_t> stale_removed_{0};
  std::atomic<int64_t> failed_downloads_{0};
};

}  // namespace shardlake
