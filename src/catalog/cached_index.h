// CachedIndex: a remote catalog (Redis, PostgreSQL) behind the catalog cache
// (catalog_cache.h). OpenIndex puts it in front of every remote backend unless
// SHARDLAKE_CATALOG_CACHE_DISABLED=1.
//
// How a Query is answered, and why it never returns a removed entry as live:
// 1. ChangeVersion (one cheap round trip). If this process answered the same
//    query at that same version, it returns that answer again: the version
//    increases with every change to the table in the same atomic step, so an
//    unchanged version means an unchanged answer.
// 2. Otherwise QueryPaths: the live paths and the version, read atomically.
//    Entries of those paths come from the cache when it has them (an entry is
//    a fact: it cannot differ while its path is live) and from GetMany
//    otherwise. If GetMany misses a listed path (removed in between, e.g. by
//    a merge), the query starts over, so the answer is always one consistent
//    snapshot, never a mix.
// Liveness thus always comes from the remote catalog; only entry contents are
// cached. Fetched entries at their final merge level are added to the cache.
//
// Get is forwarded (it must see liveness); GetTable is answered from memory
// while the table's version is unchanged; all writes are forwarded. Writers
// that do not maintain ChangeVersion (e.g. GigAPI itself writing to the same
// Redis) make step 1 stale: run such mixed deployments with the cache
// disabled (docs/catalog.md).
//
// A backend whose ChangeVersion is Unimplemented is used uncached.
// Thread-safe when the remote index is.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "catalog/catalog_cache.h"
#include "catalog/catalog_stats.h"
#include "catalog/index.h"

namespace shardlake {

class CachedIndex : public Index {
 public:
  // `merge_configs` decides which entries are final (iteration past it).
  CachedIndex(std::unique_ptr<Index> remote, std::unique_ptr<CatalogCache> cache,
              std::vector<MergeConfig> merge_configs);

  // Opens `remote` behind a cache configured from the environment
  // (SHARDLAKE_CATALOG_CACHE, SHARDLAKE_CATALOG_CACHE_INSERTS_DISABLED).
  static absl::StatusOr<std::unique_ptr<Index>> Wrap(std::unique_ptr<Index> remote,
                                                     const IndexOptions& options);

  // Whether `path` is at its final merge level under `merge_configs`.
  static bool IsFinal(const std::string& path, const std::vector<MergeConfig>& merge_configs);

  // Reads every final live entry of each table into the cache (`shardlake
  // catalog cache build`). Returns the number of entries read. Errors:
  // NotFound for a table without a schema; FailedPrecondition when inserts
  // are disabled.
  absl::StatusOr<int64_t> Build(const std::vector<std::pair<std::string, std::string>>& tables);

  CatalogCache& cache() { return *cache_; }

  std::string Describe() const override;
  absl::Status Batch(const std::vector<IndexEntry>& add,
                     const std::vector<IndexEntry>& remove) override;
  absl::StatusOr<IndexEntry> Get(const std::string& database, const std::string& table,
                                 const std::string& path) override;
  absl::StatusOr<std::vector<IndexEntry>> Query(const std::string& database,
                                                const std::string& table,
                                                const QueryOptions& options) override;
  absl::StatusOr<std::vector<std::string>> ListDatabases() override;
  absl::StatusOr<std::vector<std::string>> ListTables(const std::string& database) override;
  absl::StatusOr<std::vector<std::string>> ListFolders(const std::string& database,
                                                       const std::string& table) override;
  absl::Status CreateTable(const TableSchema& schema) override;
  absl::StatusOr<TableSchema> GetTable(const std::string& database,
                                       const std::string& table) override;
  absl::StatusOr<std::vector<IndexEntry>> DropTable(const std::string& database,
                                                    const std::string& table) override;
  absl::StatusOr<std::optional<MergePlan>> LeaseMergePlan(const std::string& database,
                                                          const std::string& table,
                                                          const LeaseRequest& request) override;
  absl::Status CompleteMerge(const MergePlan& plan, const IndexEntry& merged, int64_t now_ns,
                             int64_t drop_due_ns) override;
  absl::Status AbandonMerge(const MergePlan& plan) override;
  absl::StatusOr<std::vector<DropItem>> DueDrops(const std::string& database,
                                                 const std::string& table, int64_t now_ns,
                                                 size_t limit) override;
  absl::Status ForgetDrops(const std::vector<DropItem>& items) override;
  absl::StatusOr<int64_t> ChangeVersion(const std::string& database,
                                        const std::string& table) override;
  absl::StatusOr<PathListing> QueryPaths(const std::string& database, const std::string& table,
                                         const QueryOptions& options) override;
  absl::StatusOr<std::vector<IndexEntry>> GetMany(const std::string& database,
                                                  const std::string& table,
                                                  const std::vector<std::string>& paths) override;

 private:
  using Answer = std::vector<std::shared_ptr<const IndexEntry>>;
  // (database, table, folder, after, before, iteration) of a query.
  using QueryKey = std::tuple<std::string, std::string, std::string, std::optional<int64_t>,
                              std::optional<int64_t>, int>;
  struct RememberedAnswer {
    int64_t version = 0;
    std::shared_ptr<const Answer> answer;
  };
  struct RememberedSchema {
    int64_t version = 0;  // the table's ChangeVersion
    TableSchema schema;
  };

  // One attempt at step 2; nullopt when a listed path vanished meanwhile.
  absl::StatusOr<std::optional<RememberedAnswer>> ListAndFetch(const std::string& database,
                                                               const std::string& table,
                                                               const QueryOptions& options);
  // Adds the final ones of `entries` to the cache (errors are only counted:
  // the cache is an optimization).
  void CacheFinal(const std::vector<IndexEntry>& entries);

  std::unique_ptr<Index> remote_;
  std::unique_ptr<CatalogCache> cache_;
  const std::vector<MergeConfig> merge_configs_;
  CatalogStats& stats_;

  std::mutex mu_;
  std::map<QueryKey, RememberedAnswer> answers_;                             // guarded by mu_
  std::map<std::pair<std::string, std::string>, RememberedSchema> schemas_;  // guarded by mu_
};

}  // namespace shardlake
