// `shardlake catalog init | migrate | status | drop`: administration of a
// catalog with a versioned schema (PostgreSQL). See
// catalog/postgres/postgres_index.h for what each action does.
#pragma once

#include <string>
#include <vector>

#include "cli/context.h"

namespace shardlake::cli {

struct CatalogAdminFlags {
  // `drop` deletes every catalog table and needs this confirmation (--yes).
  bool yes = false;
};

// Help text for the `catalog` subcommand and its actions (for CLI11).
inline constexpr const char* kCatalogAdminHelp =
    "administer a PostgreSQL catalog (--catalog postgresql://...): "
    "init (create the schema at the latest version), "
    "migrate (apply pending schema migrations in order), "
    "status (print the current and latest schema versions), "
    "drop --yes (delete every shardlake table of the catalog; needs --yes)";
inline constexpr const char* kCatalogAdminYesHelp =
    "confirm `catalog drop` (it deletes the catalog)";

// Runs `action` ("init", "migrate", "status" or "drop") on options.catalog.
// Prints one line per result to stdout and errors to stderr (ReportError);
// returns the exit code: 0 on success, 1 on error, 2 for a bad action or a
// drop without --yes.
int RunCatalogAdmin(const GlobalOptions& options, const std::string& action,
                    const CatalogAdminFlags& flags = {});

inline constexpr const char* kCatalogCacheHelp =
    "the local catalog cache in front of a redis:// or postgresql:// catalog "
    "(SHARDLAKE_CATALOG_CACHE=path makes it persistent): build --tables a,b (read every "
    "final-level entry of those tables into it), status (entries it holds)";

// `shardlake catalog cache build --tables ... | status`. Returns the exit
// code: 0 on success, 1 on error, 2 for bad usage (no remote catalog, no
// tables, no persistent cache file for build).
int RunCatalogCache(const GlobalOptions& options, const std::string& action,
                    const std::vector<std::string>& tables);

}  // namespace shardlake::cli
