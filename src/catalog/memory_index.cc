#include "catalog/memory_index.h"

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "catalog/index_internal.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {

struct MemoryIndex::State {
  struct Table {
    std::optional<TableSchema> schema;
    std::map<std::string, IndexEntry> entries;  // by path
    std::map<std::string, int64_t> folders;     // folder -> live entry count
  };
  using TableKey = std::pair<std::string, std::string>;  // (database, table)

  std::mutex mu;
  std::map<TableKey, Table> tables;  // guarded by mu

  // Drops `it` when it has neither a schema nor entries. Requires mu.
  void EraseIfEmpty(std::map<TableKey, Table>::iterator it) {
    if (!it->second.schema && it->second.entries.empty()) tables.erase(it);
  }
};

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<MemoryIndex::State>> states;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();  // never destroyed: usable at exit
  return *registry;
}

}  // namespace

std::unique_ptr<MemoryIndex> MemoryIndex::Open(const std::string& name) {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  std::shared_ptr<State>& state = registry.states[name];
  if (!state) state = std::make_shared<State>();
  return std::unique_ptr<MemoryIndex>(new MemoryIndex(name, state));
}

void MemoryIndex::Forget(const std::string& name) {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  registry.states.erase(name);
}

MemoryIndex::MemoryIndex(std::string name, std::shared_ptr<State> state)
    : name_(std::move(name)), state_(std::move(state)) {}

MemoryIndex::~MemoryIndex() = default;

std::string MemoryIndex::Describe() const { return "memory://" + name_; }

absl::Status MemoryIndex::Batch(const std::vector<IndexEntry>& add,
                                const std::vector<IndexEntry>& remove) {
  RETURN_IF_ERROR(ValidateBatch(add, remove));
  std::lock_guard lock(state_->mu);
  auto& tables = state_->tables;
  // Check everything against the live state first; paths in the batch are
  // distinct, so the checks do not depend on each other.
  for (const IndexEntry& e : remove) {
    auto table = tables.find({e.database, e.table});
    if (table == tables.end() || !table->second.entries.contains(e.path)) {
      return absl::NotFoundError(fmt::format("{}: cannot remove '{}' from {}.{}: not in the index",
                                             Describe(), e.path, e.database, e.table));
    }
  }
  for (const IndexEntry& e : add) {
    auto table = tables.find({e.database, e.table});
    if (table != tables.end() && table->second.entries.contains(e.path)) {
      return absl::AlreadyExistsError(fmt::format("{}: cannot add '{}' to {}.{}: already indexed",
                                                  Describe(), e.path, e.database, e.table));
    }
  }
  for (const IndexEntry& e : remove) {
    auto table = tables.find({e.database, e.table});
    table->second.entries.erase(e.path);
    auto folder = table->second.folders.find(FolderOfPath(e.path));
    if (--folder->second == 0) table->second.folders.erase(folder);
    state_->EraseIfEmpty(table);
  }
  for (const IndexEntry& e : add) {
    State::Table& table = tables[{e.database, e.table}];
    table.entries.emplace(e.path, e);
    ++table.folders[FolderOfPath(e.path)];
  }
  return absl::OkStatus();
}

absl::StatusOr<IndexEntry> MemoryIndex::Get(const std::string& database, const std::string& table,
                                            const std::string& path) {
  std::lock_guard lock(state_->mu);
  auto it = state_->tables.find({database, table});
  if (it != state_->tables.end()) {
    auto entry = it->second.entries.find(path);
    if (entry != it->second.entries.end()) return entry->second;
  }
  return absl::NotFoundError(
      fmt::format("{}: '{}' of {}.{} is not in the index", Describe(), path, database, table));
}

absl::StatusOr<std::vector<IndexEntry>> MemoryIndex::Query(const std::string& database,
                                                           const std::string& table,
                                                           const QueryOptions& options) {
  std::string folder = catalog_internal::NormalizedFolder(options);
  std::vector<IndexEntry> out;
  if (options.after && options.before && *options.after > *options.before) return out;
  std::lock_guard lock(state_->mu);
  auto it = state_->tables.find({database, table});
  if (it == state_->tables.end()) return out;
  const auto& entries = it->second.entries;
  auto begin = folder.empty() ? entries.begin() : entries.lower_bound(folder + "/");
  for (auto e = begin; e != entries.end(); ++e) {
    if (!folder.empty() && e->first.compare(0, folder.size() + 1, folder + "/") != 0) break;
    if (catalog_internal::MatchesQuery(e->second, options, folder)) out.push_back(e->second);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> MemoryIndex::ListDatabases() {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& [key, table] : state_->tables) {
    if (out.empty() || out.back() != key.first) out.push_back(key.first);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> MemoryIndex::ListTables(const std::string& database) {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (auto it = state_->tables.lower_bound({database, ""});
       it != state_->tables.end() && it->first.first == database; ++it) {
    out.push_back(it->first.second);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> MemoryIndex::ListFolders(const std::string& database,
                                                                  const std::string& table) {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  auto it = state_->tables.find({database, table});
  if (it == state_->tables.end()) return out;
  for (const auto& [folder, count] : it->second.folders) out.push_back(folder);
  return out;
}

absl::Status MemoryIndex::CreateTable(const TableSchema& schema) {
  RETURN_IF_ERROR(catalog_internal::ValidateTableSchema(schema));
  std::lock_guard lock(state_->mu);
  State::Table& table = state_->tables[{schema.database, schema.table}];
  if (table.schema) {
    return absl::AlreadyExistsError(
        fmt::format("{}: table {}.{} already exists", Describe(), schema.database, schema.table));
  }
  table.schema = schema;
  return absl::OkStatus();
}

absl::StatusOr<TableSchema> MemoryIndex::GetTable(const std::string& database,
                                                  const std::string& table) {
  std::lock_guard lock(state_->mu);
  auto it = state_->tables.find({database, table});
  if (it == state_->tables.end() || !it->second.schema) {
    return absl::NotFoundError(
        fmt::format("{}: table {}.{} does not exist", Describe(), database, table));
  }
  return *it->second.schema;
}

absl::StatusOr<std::vector<IndexEntry>> MemoryIndex::DropTable(const std::string& database,
                                                               const std::string& table) {
  std::lock_guard lock(state_->mu);
  auto it = state_->tables.find({database, table});
  if (it == state_->tables.end() || !it->second.schema) {
    return absl::NotFoundError(
        fmt::format("{}: table {}.{} does not exist", Describe(), database, table));
  }
  std::vector<IndexEntry> removed;
  removed.reserve(it->second.entries.size());
  for (auto& [path, entry] : it->second.entries) removed.push_back(std::move(entry));
  state_->tables.erase(it);
  return removed;
}

}  // namespace shardlake
