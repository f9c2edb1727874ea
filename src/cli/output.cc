#include "cli/output.h"

#include "fmt/format.h"

namespace shardlake::cli {

absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJsonLines;
  return absl::InvalidArgumentError(
      fmt::format("unknown output format '{}': use table, csv or json", name));
}

std::unique_ptr<ResultSink> MakePrinter(OutputFormat format, std::FILE* out,
                                        size_t max_table_rows) {
  return MakeResultPrinter(format, out, max_table_rows);
}

std::string HumanBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

}  // namespace shardlake::cli
