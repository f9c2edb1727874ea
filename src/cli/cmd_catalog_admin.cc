#include <cstdio>

#include "catalog/cached_index.h"
#include "catalog/postgres/postgres_index.h"
#include "cli/catalog_admin.h"
#include "cli/commands.h"
#include "common/uri.h"
#include "fmt/format.h"

namespace shardlake::cli {
namespace {

void PrintStatus(const std::string& describe, const PostgresSchemaStatus& status) {
  std::string line = fmt::format("{}: schema version {} (latest {})", describe,
                                 status.current_version, status.latest_version);
  if (status.current_version == 0)
    line += "; not initialized, run `shardlake catalog init`";
  else if (status.current_version > status.latest_version) {
    line += "; newer than this shardlake, upgrade shardlake";
  } else if (!status.pending.empty()) {
    line += fmt::format("; {} pending migration(s), run `shardlake catalog migrate`",
                        status.pending.size());
  } else {
    line += "; up to date";
  }
  std::printf("%s\n", line.c_str());
  if (status.current_version <= status.latest_version) {
    for (const std::string& pending : status.pending)
      std::printf("  pending %s\n", pending.c_str());
  }
}

}  // namespace

int RunCatalogAdmin(const GlobalOptions& options, const std::string& action,
                    const CatalogAdminFlags& flags) {
  if (action != "init" && action != "migrate" && action != "status" && action != "drop") {
    std::fprintf(stderr, "error: unknown catalog action '%s' (init, migrate, status, drop)\n",
                 action.c_str());
    return 2;
  }
  if (options.catalog.empty()) {
    std::fprintf(stderr,
                 "error: `shardlake catalog %s` needs --catalog postgresql://...; the default "
                 "SQLite catalog creates its schema itself\n",
                 action.c_str());
    return 2;
  }
  auto uri = ParseUri(options.catalog);
  if (!uri.ok()) return ReportError(uri.status());
  if (uri->scheme != "postgresql" && uri->scheme != "postgres") {
    std::fprintf(stderr,
                 "error: `shardlake catalog %s` applies to postgresql:// catalogs, not %s (its "
                 "schema is created when it is opened)\n",
                 action.c_str(), uri->Redacted().c_str());
    return 2;
  }
  const std::string describe = uri->Redacted();
  if (action == "status") {
    auto status = PostgresCatalogStatus(*uri);
    if (!status.ok()) return ReportError(status.status());
    PrintStatus(describe, *status);
    return 0;
  }
  if (action == "init") {
    auto status = InitPostgresCatalog(*uri);
    if (!status.ok()) return ReportError(status.status());
    std::printf("%s: catalog schema at version %d\n", describe.c_str(), status->current_version);
    return 0;
  }
  if (action == "migrate") {
    auto status = MigratePostgresCatalog(*uri);
    if (!status.ok()) return ReportError(status.status());
    for (const std::string& applied : status->pending) {
      std::printf("applied migration %s\n", applied.c_str());
    }
    std::printf("%s: catalog schema at version %d%s\n", describe.c_str(), status->current_version,
                status->pending.empty() ? " (already up to date)" : "");
    return 0;
  }
  // drop
  if (!flags.yes) {
    std::fprintf(stderr,
                 "error: `shardlake catalog drop` deletes every file entry, table schema, lease "
                 "and queued drop of %s; run it again with --yes to confirm\n",
                 describe.c_str());
    return 2;
  }
  absl::Status dropped = DropPostgresCatalog(*uri);
  if (!dropped.ok()) return ReportError(dropped);
  std::printf("%s: catalog dropped\n", describe.c_str());
  return 0;
}

int RunCatalogCache(const GlobalOptions& options, const std::string& action,
                    const std::vector<std::string>& tables) {
  auto uri = ParseUri(options.catalog);
  if (options.catalog.empty() || !uri.ok() ||
      (uri->scheme != "redis" && uri->scheme != "rediss" && uri->scheme != "postgresql" &&
       uri->scheme != "postgres")) {
    std::fprintf(stderr,
                 "error: the catalog cache sits in front of a remote catalog: give --catalog "
                 "redis://... or postgresql://...\n");
    return 2;
  }
  CatalogCacheOptions cache_options = CatalogCacheOptionsFromEnv();
  if (cache_options.path.empty()) {
    std::fprintf(stderr,
                 "error: set SHARDLAKE_CATALOG_CACHE=/path/to/cache.sqlite: an in-memory cache "
                 "would be gone when this command ends\n");
    return 2;
  }
  if (action == "build" && tables.empty()) {
    std::fprintf(stderr, "error: `shardlake catalog cache build` needs --tables a,b,...\n");
    return 2;
  }
  IndexOptions index_options;
  index_options.cache = false;  // the CachedIndex is built here, over this cache
  auto remote = OpenIndex(options.catalog, index_options);
  if (!remote.ok()) return ReportError(remote.status());
  auto cache = CatalogCache::Open((*remote)->Describe(), cache_options);
  if (!cache.ok()) return ReportError(cache.status());
  CachedIndex cached(*std::move(remote), *std::move(cache), index_options.merge_configs);
  if (action == "build") {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const std::string& name : tables) {
      size_t dot = name.find('.');
      if (dot == std::string::npos) {
        pairs.emplace_back(EngineOptions{}.default_database, name);
      } else {
        pairs.emplace_back(name.substr(0, dot), name.substr(dot + 1));
      }
    }
    auto added = cached.Build(pairs);
    if (!added.ok()) return ReportError(added.status());
    std::printf("%s: read %lld final-level entries of %zu table(s)\n",
                cached.cache().Describe().c_str(), static_cast<long long>(*added), pairs.size());
  }
  auto count = cached.cache().Count();
  if (!count.ok()) return ReportError(count.status());
  std::printf("%s: %lld entries\n", cached.cache().Describe().c_str(),
              static_cast<long long>(*count));
  return 0;
}

}  // namespace shardlake::cli
