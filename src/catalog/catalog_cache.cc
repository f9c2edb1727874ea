#include "catalog/catalog_cache.h"

#include <cstdlib>
#include <string_view>
#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

constexpr int kBusyTimeoutMs = 10'000;
constexpr int kFormatVersion = 1;

bool EnvFlag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' && std::string_view(value) != "0";
}

std::string MemoryKey(const std::string& database, const std::string& table,
                      const std::string& path) {
  std::string key;
  key.reserve(database.size() + table.size() + path.size() + 2);
  key.append(database).push_back('\0');
  key.append(table).push_back('\0');
  key.append(path);
  return key;
}

std::string DumpJson(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS cache_format (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
  catalog    TEXT NOT NULL,
  database   TEXT NOT NULL,
  tbl        TEXT NOT NULL,
  path       TEXT NOT NULL,
  entry_json TEXT NOT NULL,
  PRIMARY KEY (catalog, database, tbl, path)
) WITHOUT ROWID;
)sql";

}  // namespace

CatalogCacheOptions CatalogCacheOptionsFromEnv() {
  CatalogCacheOptions options;
  if (const char* path = std::getenv("SHARDLAKE_CATALOG_CACHE"); path != nullptr) {
    options.path = path;
  }
  options.inserts_enabled = !EnvFlag("SHARDLAKE_CATALOG_CACHE_INSERTS_DISABLED");
  return options;
}

bool CatalogCacheDisabledByEnv() { return EnvFlag("SHARDLAKE_CATALOG_CACHE_DISABLED"); }

CatalogCache::CatalogCache(std::string catalog, CatalogCacheOptions options)
    : catalog_(std::move(catalog)), options_(std::move(options)) {}

CatalogCache::~CatalogCache() {
  // Statements before the connection that prepared them.
  find_entry_.reset();
  insert_entry_.reset();
}

std::string CatalogCache::Describe() const {
  return fmt::format("catalog cache {} of {}", options_.path.empty() ? ":memory:" : options_.path,
                     catalog_);
}

absl::Status CatalogCache::Error(int rc, const std::string& what) const {
  return sqlite::StatusForCode(
      rc, fmt::format("{}: {}: {}", Describe(), what,
                      db_ != nullptr ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc)));
}

absl::Status CatalogCache::Exec(const char* sql) {
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? absl::OkStatus() : Error(rc, "setting up");
}

absl::Status CatalogCache::Prepare(const char* sql, sqlite::Stmt* out) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  out->reset(raw);
  return rc == SQLITE_OK ? absl::OkStatus() : Error(rc, "preparing a statement");
}

absl::StatusOr<std::unique_ptr<CatalogCache>> CatalogCache::Open(
    const std::string& catalog, const CatalogCacheOptions& options) {
  std::unique_ptr<CatalogCache> cache(new CatalogCache(catalog, options));
  const std::string file = options.path.empty() ? ":memory:" : options.path;
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(file.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  cache->db_.reset(raw);  // owned even on failure
  if (rc != SQLITE_OK) return cache->Error(rc, "cannot open the cache file");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  sqlite::TraceIfDebugging(raw);
  std::lock_guard lock(cache->mu_);
  if (!options.path.empty()) {
    RETURN_IF_ERROR(cache->Exec("PRAGMA journal_mode = WAL"));
    RETURN_IF_ERROR(cache->Exec("PRAGMA synchronous = NORMAL"));
  }
  // One write transaction, so processes creating one file at once do not race.
  RETURN_IF_ERROR(cache->Exec("BEGIN IMMEDIATE"));
  absl::Status schema = [&]() -> absl::Status {
    RETURN_IF_ERROR(cache->Exec(kSchema));
    sqlite::Stmt version;
    RETURN_IF_ERROR(cache->Prepare("SELECT max(version) FROM cache_format", &version));
    int step = sqlite3_step(version.get());
    if (step != SQLITE_ROW) return cache->Error(step, "reading the cache format");
    if (sqlite3_column_type(version.get(), 0) == SQLITE_NULL) {
      version.reset();
      return cache->Exec(
          fmt::format("INSERT INTO cache_format VALUES ({})", kFormatVersion).c_str());
    }
    int64_t found = sqlite3_column_int64(version.get(), 0);
    if (found != kFormatVersion) {
      return absl::FailedPreconditionError(fmt::format(
          "{}: the file has cache format {}, this shardlake uses {}; delete the file (it only "
          "holds copies of catalog facts) or point SHARDLAKE_CATALOG_CACHE elsewhere",
          cache->Describe(), found, kFormatVersion));
    }
    return absl::OkStatus();
  }();
  if (!schema.ok()) {
    (void)cache->Exec("ROLLBACK");
    return schema;
  }
  RETURN_IF_ERROR(cache->Exec("COMMIT"));
  RETURN_IF_ERROR(cache->Prepare(
      "SELECT entry_json FROM entries WHERE catalog = ?1 AND database = ?2 AND tbl = ?3 AND "
      "path = ?4",
      &cache->find_entry_));
  RETURN_IF_ERROR(cache->Prepare(
      "INSERT OR IGNORE INTO entries (catalog, database, tbl, path, entry_json) VALUES "
      "(?1, ?2, ?3, ?4, ?5)",
      &cache->insert_entry_));
  return cache;
}

std::shared_ptr<const IndexEntry> CatalogCache::FindInMemory(const std::string& key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void CatalogCache::RememberInMemory(const std::string& key,
                                    std::shared_ptr<const IndexEntry> entry) {
  if (options_.memory_entries == 0) return;
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(key, std::move(entry));
  by_key_.emplace(key, lru_.begin());
  while (lru_.size() > options_.memory_entries) {
    by_key_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

absl::StatusOr<std::vector<std::shared_ptr<const IndexEntry>>> CatalogCache::Lookup(
    const std::string& database, const std::string& table, const std::vector<std::string>& paths) {
  std::vector<std::shared_ptr<const IndexEntry>> found(paths.size());
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < paths.size(); ++i) {
    std::string key = MemoryKey(database, table, paths[i]);
    found[i] = FindInMemory(key);
    if (found[i] != nullptr) continue;
    sqlite::StmtUse use(find_entry_.get());
    sqlite::BindText(use.get(), 1, catalog_);
    sqlite::BindText(use.get(), 2, database);
    sqlite::BindText(use.get(), 3, table);
    sqlite::BindText(use.get(), 4, paths[i]);
    int rc = sqlite3_step(use.get());
    if (rc == SQLITE_DONE) continue;
    if (rc != SQLITE_ROW) return Error(rc, fmt::format("looking up '{}'", paths[i]));
    auto entry = IndexEntryFromJsonText(sqlite::ColumnText(use.get(), 0));
    // A damaged row is a miss, not an error: the remote catalog has the truth.
    if (!entry.ok() || entry->path != paths[i] || entry->database != database ||
        entry->table != table) {
      continue;
    }
    found[i] = std::make_shared<const IndexEntry>(*std::move(entry));
    RememberInMemory(key, found[i]);
  }
  return found;
}

absl::Status CatalogCache::Insert(const std::vector<IndexEntry>& entries) {
  if (!options_.inserts_enabled || entries.empty()) return absl::OkStatus();
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  for (const IndexEntry& e : entries) {
    std::string json = DumpJson(IndexEntryToJson(e));
    sqlite::StmtUse use(insert_entry_.get());
    sqlite::BindText(use.get(), 1, catalog_);
    sqlite::BindText(use.get(), 2, e.database);
    sqlite::BindText(use.get(), 3, e.table);
    sqlite::BindText(use.get(), 4, e.path);
    sqlite::BindText(use.get(), 5, json);
    int rc = sqlite3_step(use.get());
    if (rc != SQLITE_DONE) {
      absl::Status error = Error(rc, fmt::format("inserting '{}'", e.path));
      (void)Exec("ROLLBACK");
      return error;
    }
    RememberInMemory(MemoryKey(e.database, e.table, e.path), std::make_shared<const IndexEntry>(e));
  }
  return Exec("COMMIT");
}

absl::StatusOr<int64_t> CatalogCache::Count() {
  std::lock_guard lock(mu_);
  sqlite::Stmt stmt;
  RETURN_IF_ERROR(Prepare("SELECT count(*) FROM entries WHERE catalog = ?1", &stmt));
  sqlite::BindText(stmt.get(), 1, catalog_);
  int rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return Error(rc, "counting entries");
  return sqlite3_column_int64(stmt.get(), 0);
}

}  // namespace shardlake
