// CatalogCache: a local store of catalog facts that never change, kept in
// front of a remote catalog (Redis, PostgreSQL) by CachedIndex. Thoth's SQLite
// graph cache, done for this domain.
//
// The facts, and why they never change: the entry of a file at its final
// merge level (a path ending ".N.parquet" with N past the merge
// configuration). Paths are unique (a new UUID per written file) and a final
// file is never merged again, so the entry of a path is the same for as long
// as the path exists, and it is worth keeping because the file stays. Whether
// a file is still live is NOT such a fact: CachedIndex asks the remote catalog
// for that every time (see cached_index.h). Table schemas are not stored here:
// the remote catalog keeps only a table's current schema, which CachedIndex
// remembers in memory per change version.
//
// Facts are kept per remote catalog (its redacted URI), so one cache file can
// serve several catalogs without mixing them. Two tiers: a bounded in-memory
// LRU of decoded entries in front of SQLite. The SQLite file is in memory by
// default, or a file (SHARDLAKE_CATALOG_CACHE=path) that several processes may
// share (WAL; inserts of an existing fact are ignored).
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/index_entry.h"
#include "catalog/sqlite_handle.h"

namespace shardlake {

struct CatalogCacheOptions {
  std::string path;                 // SQLite file; "" keeps the cache in memory
  bool inserts_enabled = true;      // false: read what is there, never add
  size_t memory_entries = 1 << 18;  // decoded entries kept in memory (LRU)
};

// The options from the environment: SHARDLAKE_CATALOG_CACHE (path) and
// SHARDLAKE_CATALOG_CACHE_INSERTS_DISABLED=1.
CatalogCacheOptions CatalogCacheOptionsFromEnv();

// Whether SHARDLAKE_CATALOG_CACHE_DISABLED=1 asks for no cache at all.
bool CatalogCacheDisabledByEnv();

class CatalogCache {
 public:
  // Opens (creating if needed) the cache for the remote catalog `catalog` (its
  // redacted URI). Errors: Unavailable / PermissionDenied when the file cannot
  // be opened; FailedPrecondition for a file of an unknown cache format.
  static absl::StatusOr<std::unique_ptr<CatalogCache>> Open(const std::string& catalog,
                                                            const CatalogCacheOptions& options);
  ~CatalogCache();

  std::string Describe() const;
  bool inserts_enabled() const { return options_.inserts_enabled; }

  // For each of `paths`, the cached entry or null (same order). Errors only
  // for a failing SQLite read.
  absl::StatusOr<std::vector<std::shared_ptr<const IndexEntry>>> Lookup(
      const std::string& database, const std::string& table, const std::vector<std::string>& paths);

  // Adds entries (each must be a fact: the caller checks the merge level).
  // A no-op when inserts are disabled.
  absl::Status Insert(const std::vector<IndexEntry>& entries);

  // Entries stored in SQLite for this catalog.
  absl::StatusOr<int64_t> Count();

 private:
  CatalogCache(std::string catalog, CatalogCacheOptions options);

  // Runs one statement without results. Requires mu_.
  absl::Status Exec(const char* sql);
  absl::Status Prepare(const char* sql, sqlite::Stmt* out);
  absl::Status Error(int rc, const std::string& what) const;

  // The memory tier. Requires mu_.
  std::shared_ptr<const IndexEntry> FindInMemory(const std::string& key);
  void RememberInMemory(const std::string& key, std::shared_ptr<const IndexEntry> entry);

  const std::string catalog_;
  const CatalogCacheOptions options_;

  std::mutex mu_;
  sqlite::Db db_;              // guarded by mu_; statements below too
  sqlite::Stmt find_entry_;    // catalog, database, tbl, path -> entry_json
  sqlite::Stmt insert_entry_;  // catalog, database, tbl, path, entry_json
  // LRU of decoded entries, most recent first, keyed by database, table and
  // path joined with '\0'.
  using LruList = std::list<std::pair<std::string, std::shared_ptr<const IndexEntry>>>;
  LruList lru_;
  std::unordered_map<std::string, LruList::iterator> by_key_;
};

}  // namespace shardlake
