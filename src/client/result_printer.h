// Result printers: ResultSinks that write a statement's rows to a FILE* as an
// aligned table, CSV or JSON. Shared by `shardlake client` (.mode) and
// `shardlake sql --format`.
//
//   table  a box drawn with Unicode rules, columns padded to the widest value
//          (in terminal columns: wide CJK characters count 2), NULL shown as NULL; up to
//          max_table_rows rows are buffered to size the columns, the rest are counted.
//   csv    RFC 4180 quoting (lines end with LF): a header line, fields quoted when they hold a
//   comma,
//          quote, CR or LF or are empty strings; NULL is an empty field.
//   json   one array of objects, one object per row on its own line, keys in
//          column order; NULL is null; a value is an unquoted number only
//          when its text is a JSON number, otherwise a string.
//   jsonl  the same objects, one per line, without the enclosing array.
//
// Thread-safety: a printer belongs to one thread.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "query/engine.h"

namespace shardlake {

enum class OutputFormat { kTable, kCsv, kJson, kJsonLines };

// Parses "table", "csv", "json" or "jsonl". Errors: InvalidArgument naming the
// accepted names.
absl::StatusOr<OutputFormat> ParseOutputFormat(std::string_view name);
std::string OutputFormatName(OutputFormat format);

// A sink writing to `out` (not owned; must outlive the sink) in `format`.
// Begin/Rows/End may be repeated for several statements. Errors: Unavailable
// when writing to `out` fails (e.g. a closed pipe).
std::unique_ptr<ResultSink> MakeResultPrinter(OutputFormat format, std::FILE* out,
                                              size_t max_table_rows = 10000);

// Renders rows as a boxed table.
std::string RenderTable(const std::vector<std::string>& columns,
                        const std::vector<std::vector<std::optional<std::string>>>& rows);

// One CSV field per RFC 4180 (NULL -> empty, "" -> "\"\"").
std::string CsvField(const std::optional<std::string>& value);

// True when `text` is a number in JSON's grammar (-?int[.frac][e[+-]exp]).
bool IsJsonNumber(std::string_view text);

}  // namespace shardlake
