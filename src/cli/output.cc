#include "cli/output.h"

#include <algorithm>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace shardlake::cli {
namespace {

// Display width of UTF-8 text, counting code points.
size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string Pad(const std::string& text, size_t width) {
  return text + std::string(width - std::min(width, DisplayWidth(text)), ' ');
}

std::string Rule(const std::vector<size_t>& widths, const char* left, const char* mid,
                 const char* right) {
  std::string line = left;
  for (size_t i = 0; i < widths.size(); ++i) {
    for (size_t j = 0; j < widths[i] + 2; ++j) line += "─";
    line += i + 1 < widths.size() ? mid : right;
  }
  return line + "\n";
}

std::string CsvField(const std::optional<std::string>& value) {
  if (!value.has_value()) return "";
  const std::string& v = *value;
  if (v.find_first_of(",\"\n\r") == std::string::npos && !v.empty()) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

class TablePrinter : public ResultSink {
 public:
  TablePrinter(std::FILE* out, size_t max_rows) : out_(out), max_rows_(max_rows) {}
  absl::Status Begin(const std::vector<std::string>& columns) override {
    columns_ = columns;
    rows_.clear();
    omitted_ = 0;
    return absl::OkStatus();
  }
  absl::Status Rows(const std::vector<std::vector<std::optional<std::string>>>& rows) override {
    for (const auto& row : rows) {
      if (rows_.size() < max_rows_) {
        rows_.push_back(row);
      } else {
        ++omitted_;
      }
    }
    return absl::OkStatus();
  }
  absl::Status End() override {
    if (columns_.size() == 2 && columns_[0] == "explain_key") {
      // Plans are drawn already; print them as they are.
      for (const auto& row : rows_) {
        std::fprintf(out_, "%s\n%s\n", row[0].value_or("").c_str(), row[1].value_or("").c_str());
      }
      return absl::OkStatus();
    }
    std::string text = RenderTable(columns_, rows_);
    if (omitted_ > 0) text += fmt::format("({} more rows not shown)\n", omitted_);
    std::fputs(text.c_str(), out_);
    std::fflush(out_);
    return absl::OkStatus();
  }

 private:
  std::FILE* out_;
  size_t max_rows_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::optional<std::string>>> rows_;
  size_t omitted_ = 0;
};

class CsvPrinter : public ResultSink {
 public:
  explicit CsvPrinter(std::FILE* out) : out_(out) {}
  absl::Status Begin(const std::vector<std::string>& columns) override {
    std::string line;
    for (size_t i = 0; i < columns.size(); ++i) {
      line += (i > 0 ? "," : "") + CsvField(columns[i]);
    }
    std::fprintf(out_, "%s\n", line.c_str());
    return absl::OkStatus();
  }
  absl::Status Rows(const std::vector<std::vector<std::optional<std::string>>>& rows) override {
    for (const auto& row : rows) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) line += (i > 0 ? "," : "") + CsvField(row[i]);
      std::fprintf(out_, "%s\n", line.c_str());
    }
    return absl::OkStatus();
  }
  absl::Status End() override {
    std::fflush(out_);
    return absl::OkStatus();
  }

 private:
  std::FILE* out_;
};

// One JSON object per row; values are strings as DuckDB renders them, null for NULL.
class JsonPrinter : public ResultSink {
 public:
  explicit JsonPrinter(std::FILE* out) : out_(out) {}
  absl::Status Begin(const std::vector<std::string>& columns) override {
    columns_ = columns;
    return absl::OkStatus();
  }
  absl::Status Rows(const std::vector<std::vector<std::optional<std::string>>>& rows) override {
    for (const auto& row : rows) {
      nlohmann::ordered_json object = nlohmann::ordered_json::object();
      for (size_t i = 0; i < row.size() && i < columns_.size(); ++i) {
        if (row[i].has_value()) {
          object[columns_[i]] = *row[i];
        } else {
          object[columns_[i]] = nullptr;
        }
      }
      std::fprintf(out_, "%s\n",
                   object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    }
    return absl::OkStatus();
  }
  absl::Status End() override {
    std::fflush(out_);
    return absl::OkStatus();
  }

 private:
  std::FILE* out_;
  std::vector<std::string> columns_;
};

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJson;
  return absl::InvalidArgumentError(
      fmt::format("unknown output format '{}': use table, csv or json", name));
}

std::unique_ptr<ResultSink> MakePrinter(OutputFormat format, std::FILE* out,
                                        size_t max_table_rows) {
  switch (format) {
    case OutputFormat::kCsv:
      return std::make_unique<CsvPrinter>(out);
    case OutputFormat::kJson:
      return std::make_unique<JsonPrinter>(out);
    case OutputFormat::kTable:
      break;
  }
  return std::make_unique<TablePrinter>(out, max_table_rows);
}

std::string RenderTable(const std::vector<std::string>& columns,
                        const std::vector<std::vector<std::optional<std::string>>>& rows) {
  std::vector<size_t> widths;
  for (const auto& c : columns) widths.push_back(DisplayWidth(c));
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i].value_or("NULL")));
    }
  }
  std::string text = Rule(widths, "┌", "┬", "┐");
  text += "│";
  for (size_t i = 0; i < columns.size(); ++i) text += " " + Pad(columns[i], widths[i]) + " │";
  text += "\n" + Rule(widths, "├", "┼", "┤");
  for (const auto& row : rows) {
    text += "│";
    for (size_t i = 0; i < columns.size(); ++i) {
      text += " " + Pad(i < row.size() ? row[i].value_or("NULL") : "", widths[i]) + " │";
    }
    text += "\n";
  }
  text += Rule(widths, "└", "┴", "┘");
  return text;
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
