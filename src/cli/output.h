// Result rendering for the command line. The printers themselves live in
// client/result_printer.h (shared with `shardlake client`).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/result_printer.h"
#include "query/engine.h"

namespace shardlake::cli {

// `shardlake sql --format`: "table", "csv" or "json" (one object per line, as
// `jsonl` in the client). Errors: InvalidArgument.
absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& name);

// A sink writing to `out` in `format`. Table output buffers up to
// `max_table_rows` rows to size the columns and then says how many it omitted.
std::unique_ptr<ResultSink> MakePrinter(OutputFormat format, std::FILE* out,
                                        size_t max_table_rows = 10000);

// "1.2 MiB", "3.4 GiB"...
std::string HumanBytes(int64_t bytes);

}  // namespace shardlake::cli
