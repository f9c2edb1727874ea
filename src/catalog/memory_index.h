// MemoryIndex: an in-process catalog (`memory://name`), for unit tests and
// single-process tools. All MemoryIndex objects opened with the same name in one
// process share one state, which lives until Forget(name) or process exit (so a
// catalog survives closing and reopening it, like a file would).
//
// Semantics are those of catalog/index.h. Thread-safety: every method may be
// called concurrently; each call holds the shared state's mutex, so readers never
// see part of a batch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "catalog/index.h"

namespace shardlake {

class MemoryIndex : public Index {
 public:
  // The index named `name`, created empty if no index of that name exists yet.
  // Never fails. The caller owns the returned object (not the shared state).
  static std::unique_ptr<MemoryIndex> Open(const std::string& name,
                                           const IndexOptions& options = {});

  // Drops the shared state of `name` from the process-wide registry. Objects
  // already open keep working on the old state; the next Open starts empty.
  static void Forget(const std::string& name);

  ~MemoryIndex() override;

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

  struct State;  // defined in memory_index.cc

 private:
  MemoryIndex(std::string name, std::shared_ptr<State> state,
              std::vector<MergeConfig> merge_configs);

  std::string name_;
  std::shared_ptr<State> state_;
  std::vector<MergeConfig> merge_configs_;
};

}  // namespace shardlake
