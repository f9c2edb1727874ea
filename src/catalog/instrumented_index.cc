#include "catalog/instrumented_index.h"

namespace shardlake {

InstrumentedIndex::InstrumentedIndex(std::unique_ptr<Index> inner)
    : inner_(std::move(inner)), stats_(CatalogStats::For(inner_->Describe())) {}

std::string InstrumentedIndex::Describe() const { return inner_->Describe(); }

// Each method times one forwarded call under its own name.
#define SHARDLAKE_TIMED(name, call)             \
  CatalogStats::Call timed_call(&stats_, name); \
  return timed_call.Done(call)

absl::Status InstrumentedIndex::Batch(const std::vector<IndexEntry>& add,
                                      const std::vector<IndexEntry>& remove) {
  SHARDLAKE_TIMED("Batch", inner_->Batch(add, remove));
}
absl::StatusOr<IndexEntry> InstrumentedIndex::Get(const std::string& database,
                                                  const std::string& table,
                                                  const std::string& path) {
  SHARDLAKE_TIMED("Get", inner_->Get(database, table, path));
}
absl::StatusOr<std::vector<IndexEntry>> InstrumentedIndex::Query(const std::string& database,
                                                                 const std::string& table,
                                                                 const QueryOptions& options) {
  SHARDLAKE_TIMED("Query", inner_->Query(database, table, options));
}
absl::StatusOr<std::vector<std::string>> InstrumentedIndex::ListDatabases() {
  SHARDLAKE_TIMED("ListDatabases", inner_->ListDatabases());
}
absl::StatusOr<std::vector<std::string>> InstrumentedIndex::ListTables(
    const std::string& database) {
  SHARDLAKE_TIMED("ListTables", inner_->ListTables(database));
}
absl::StatusOr<std::vector<std::string>> InstrumentedIndex::ListFolders(const std::string& database,
                                                                        const std::string& table) {
  SHARDLAKE_TIMED("ListFolders", inner_->ListFolders(database, table));
}
absl::Status InstrumentedIndex::CreateTable(const TableSchema& schema) {
  SHARDLAKE_TIMED("CreateTable", inner_->CreateTable(schema));
}
absl::StatusOr<TableSchema> InstrumentedIndex::GetTable(const std::string& database,
                                                        const std::string& table) {
  SHARDLAKE_TIMED("GetTable", inner_->GetTable(database, table));
}
absl::StatusOr<std::vector<IndexEntry>> InstrumentedIndex::DropTable(const std::string& database,
                                                                     const std::string& table) {
  SHARDLAKE_TIMED("DropTable", inner_->DropTable(database, table));
}
absl::StatusOr<std::optional<MergePlan>> InstrumentedIndex::LeaseMergePlan(
    const std::string& database, const std::string& table, const LeaseRequest& request) {
  SHARDLAKE_TIMED("LeaseMergePlan", inner_->LeaseMergePlan(database, table, request));
}
absl::Status InstrumentedIndex::CompleteMerge(const MergePlan& plan, const IndexEntry& merged,
                                              int64_t now_ns, int64_t drop_due_ns) {
  SHARDLAKE_TIMED("CompleteMerge", inner_->CompleteMerge(plan, merged, now_ns, drop_due_ns));
}
absl::Status InstrumentedIndex::AbandonMerge(const MergePlan& plan) {
  SHARDLAKE_TIMED("AbandonMerge", inner_->AbandonMerge(plan));
}
absl::StatusOr<std::vector<DropItem>> InstrumentedIndex::DueDrops(const std::string& database,
                                                                  const std::string& table,
                                                                  int64_t now_ns, size_t limit) {
  SHARDLAKE_TIMED("DueDrops", inner_->DueDrops(database, table, now_ns, limit));
}
absl::Status InstrumentedIndex::ForgetDrops(const std::vector<DropItem>& items) {
  SHARDLAKE_TIMED("ForgetDrops", inner_->ForgetDrops(items));
}
absl::StatusOr<int64_t> InstrumentedIndex::ChangeVersion(const std::string& database,
                                                         const std::string& table) {
  SHARDLAKE_TIMED("ChangeVersion", inner_->ChangeVersion(database, table));
}
absl::StatusOr<PathListing> InstrumentedIndex::QueryPaths(const std::string& database,
                                                          const std::string& table,
                                                          const QueryOptions& options) {
  SHARDLAKE_TIMED("QueryPaths", inner_->QueryPaths(database, table, options));
}
absl::StatusOr<std::vector<IndexEntry>> InstrumentedIndex::GetMany(
    const std::string& database, const std::string& table, const std::vector<std::string>& paths) {
  SHARDLAKE_TIMED("GetMany", inner_->GetMany(database, table, paths));
}

#undef SHARDLAKE_TIMED

}  // namespace shardlake
