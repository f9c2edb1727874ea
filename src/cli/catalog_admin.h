// `shardlake catalog init | migrate | status | drop`: administration of a
// catalog with a versioned schema (PostgreSQL). See
// catalog/postgres/postgres_index.h for what each action does.
#pragma once

#include <string>

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

}  // namespace shardlake::cli
