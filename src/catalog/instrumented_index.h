// InstrumentedIndex: forwards every call to another Index and records its
// latency and outcome in CatalogStats (catalog_stats.h), which
// SHARDLAKE_LOG_STATS=1 prints at exit. OpenIndex wraps backends that do not
// record statistics themselves. Thread-safe when the wrapped index is.
#pragma once

#include <memory>

#include "catalog/catalog_stats.h"
#include "catalog/index.h"

namespace shardlake {

class InstrumentedIndex : public Index {
 public:
  explicit InstrumentedIndex(std::unique_ptr<Index> inner);

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
  std::unique_ptr<Index> inner_;
  CatalogStats& stats_;
};

}  // namespace shardlake
