#include "client/result_printer.h"

#include <algorithm>
#include <cstdint>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace shardlake {
namespace {

using RowList = std::vector<std::vector<std::optional<std::string>>>;

// Terminal columns a code point takes: 0 for combining marks, 2 for East
// Asian wide and fullwidth characters and emoji, else 1.
size_t CodePointWidth(uint32_t c) {
  if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) || c == 0xFE0F) return 0;
  if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF && c != 0x303F) ||
      (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
      (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
      (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
      (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

// Display width of UTF-8 text in terminal columns (invalid bytes count 1).
size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t length = byte < 0x80         ? 1
                    : (byte >> 5) == 6  ? 2
                    : (byte >> 4) == 14 ? 3
                    : (byte >> 3) == 30 ? 4
                                        : 1;
    if (i + length > text.size()) length = 1;
    uint32_t code = length == 1 ? byte : byte & (0x3F >> (length - 1));
    for (size_t k = 1; k < length; ++k) {
      code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    width += length == 1 && byte >= 0x80 ? 1 : CodePointWidth(code);
    i += length;
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

absl::Status Write(std::FILE* out, const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), out) != text.size()) {
    return absl::UnavailableError("cannot write the result: the output was closed");
  }
  return absl::OkStatus();
}

absl::Status Flush(std::FILE* out) {
  if (std::fflush(out) != 0) {
    return absl::UnavailableError("cannot write the result: the output was closed");
  }
  return absl::OkStatus();
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
  absl::Status Rows(const RowList& rows) override {
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
    std::string text;
    if (columns_.size() == 2 && columns_[0] == "explain_key") {
      // Plans are drawn already; print them as they are.
      for (const auto& row : rows_) {
        text += row[0].value_or("") + "\n" + row[1].value_or("") + "\n";
      }
    } else {
      text = RenderTable(columns_, rows_);
      if (omitted_ > 0) text += fmt::format("({} more rows not shown)\n", omitted_);
    }
    if (absl::Status status = Write(out_, text); !status.ok()) return status;
    return Flush(out_);
  }

 private:
  std::FILE* out_;
  size_t max_rows_;
  std::vector<std::string> columns_;
  RowList rows_;
  size_t omitted_ = 0;
};

class CsvPrinter : public ResultSink {
 public:
  explicit CsvPrinter(std::FILE* out) : out_(out) {}
  absl::Status Begin(const std::vector<std::string>& columns) override {
    std::string line;
    for (size_t i = 0; i < columns.size(); ++i) line += (i > 0 ? "," : "") + CsvField(columns[i]);
    return Write(out_, line + "\n");
  }
  absl::Status Rows(const RowList& rows) override {
    std::string text;
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) text += (i > 0 ? "," : "") + CsvField(row[i]);
      text += "\n";
    }
    return Write(out_, text);
  }
  absl::Status End() override { return Flush(out_); }

 private:
  std::FILE* out_;
};

class JsonPrinter : public ResultSink {
 public:
  JsonPrinter(std::FILE* out, bool as_array) : out_(out), as_array_(as_array) {}
  absl::Status Begin(const std::vector<std::string>& columns) override {
    columns_ = columns;
    rows_written_ = 0;
    return as_array_ ? Write(out_, "[") : absl::OkStatus();
  }
  absl::Status Rows(const RowList& rows) override {
    std::string text;
    for (const auto& row : rows) {
      if (as_array_) text += rows_written_ == 0 ? "\n" : ",\n";
      text += "{";
      for (size_t i = 0; i < row.size() && i < columns_.size(); ++i) {
        if (i > 0) text += ",";
        text += Quote(columns_[i]) + ":";
        if (!row[i].has_value()) {
          text += "null";
        } else if (IsJsonNumber(*row[i])) {
          text += *row[i];
        } else {
          text += Quote(*row[i]);
        }
      }
      text += "}";
      if (!as_array_) text += "\n";
      ++rows_written_;
    }
    return Write(out_, text);
  }
  absl::Status End() override {
    if (as_array_) {
      if (absl::Status status = Write(out_, rows_written_ == 0 ? "]\n" : "\n]\n"); !status.ok()) {
        return status;
      }
    }
    return Flush(out_);
  }

 private:
  static std::string Quote(const std::string& text) {
    // Invalid UTF-8 (possible in BLOB text) becomes U+FFFD rather than failing.
    return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  std::FILE* out_;
  bool as_array_;
  std::vector<std::string> columns_;
  size_t rows_written_ = 0;
};

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJson;
  if (name == "jsonl") return OutputFormat::kJsonLines;
  return absl::InvalidArgumentError(
      fmt::format("unknown output format '{}': use table, csv, json or jsonl", name));
}

std::string OutputFormatName(OutputFormat format) {
  switch (format) {
    case OutputFormat::kCsv:
      return "csv";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kJsonLines:
      return "jsonl";
    case OutputFormat::kTable:
      break;
  }
  return "table";
}

std::unique_ptr<ResultSink> MakeResultPrinter(OutputFormat format, std::FILE* out,
                                              size_t max_table_rows) {
  switch (format) {
    case OutputFormat::kCsv:
      return std::make_unique<CsvPrinter>(out);
    case OutputFormat::kJson:
      return std::make_unique<JsonPrinter>(out, /*as_array=*/true);
    case OutputFormat::kJsonLines:
      return std::make_unique<JsonPrinter>(out, /*as_array=*/false);
    case OutputFormat::kTable:
      break;
  }
  return std::make_unique<TablePrinter>(out, max_table_rows);
}

std::string RenderTable(const std::vector<std::string>& columns, const RowList& rows) {
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

std::string CsvField(const std::optional<std::string>& value) {
  if (!value.has_value()) return "";
  const std::string& v = *value;
  if (!v.empty() && v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

bool IsJsonNumber(std::string_view text) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (i >= text.size()) return false;
  if (text[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == text.size();
}

}  // namespace shardlake
