// Result rendering for the command line: boxed tables, CSV and JSON lines.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "query/engine.h"

namespace shardlake::cli {

enum class OutputFormat { kTable, kCsv, kJson };

// Parses "table", "csv" or "json". Errors: InvalidArgument.
absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& name);

// A sink writing to `out` in `format`. Table output buffers up to
// `max_table_rows` rows to size the columns and then says how many it omitted.
std::unique_ptr<ResultSink> MakePrinter(OutputFormat format, std::FILE* out,
                                        size_t max_table_rows = 10000);

// Renders rows as a boxed table (used by `tables` and `files` too).
std::string RenderTable(const std::vector<std::string>& columns,
                        const std::vector<std::vector<std::optional<std::string>>>& rows);

// "1.2 MiB", "3.4 GiB"...
std::string HumanBytes(int64_t bytes);

}  // namespace shardlake::cli
