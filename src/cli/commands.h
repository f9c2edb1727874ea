// The subcommands of the `shardlake` binary, one file each. Each returns the
// process exit code and prints its own errors (one line, to stderr).
#pragma once

#include <string>
#include <vector>

#include "cli/context.h"

namespace shardlake::cli {

// `shardlake sql [SQL]`: runs SQL; without SQL reads statements from stdin, or
// opens an interactive prompt when stdin is a terminal.
int RunSql(GlobalOptions options, const std::string& sql);

// `shardlake load TABLE FILE...`
int RunLoad(const GlobalOptions& options, const std::string& table,
            const std::vector<std::string>& files);

// `shardlake tables`
int RunTables(const GlobalOptions& options);

// `shardlake files TABLE`
int RunFiles(const GlobalOptions& options, const std::string& table, const std::string& after,
             const std::string& before);

// `shardlake compact [--now] [--grace S]`: merges what is due once and deletes
// merged sources whose grace period has passed.
int RunCompact(const GlobalOptions& options, bool now, double grace_seconds);

// Prints "error: <message>" to stderr and returns 1.
int ReportError(const absl::Status& status);

}  // namespace shardlake::cli
