#include "client/result_printer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace shardlake {
namespace {

using RowList = std::vector<std::vector<std::optional<std::string>>>;

// Prints the rows through a printer of `format` and returns the text.
std::string Print(OutputFormat format, const std::vector<std::string>& columns,
                  const RowList& rows) {
  std::FILE* out = std::tmpfile();
  EXPECT_NE(out, nullptr);
  auto printer = MakeResultPrinter(format, out);
  EXPECT_TRUE(printer->Begin(columns).ok());
  for (const auto& row : rows) EXPECT_TRUE(printer->Rows({row}).ok());  // one batch per row
  EXPECT_TRUE(printer->End().ok());
  std::rewind(out);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), out)) > 0) text.append(buffer, n);
  std::fclose(out);
  return text;
}

const std::vector<std::string> kColumns = {"id", "name", "note"};
const RowList kRows = {{"1", "Zoë 日本", std::nullopt}, {"-2.5e3", "say \"hi\", ok", ""}};

TEST(ResultPrinterTest, TableAlignsUnicodeAndShowsNull) {
  EXPECT_EQ(Print(OutputFormat::kTable, kColumns, kRows),
            "┌────────┬──────────────┬──────┐\n"
            "│ id     │ name         │ note │\n"
            "├────────┼──────────────┼──────┤\n"
            "│ 1      │ Zoë 日本     │ NULL │\n"
            "│ -2.5e3 │ say \"hi\", ok │      │\n"
            "└────────┴──────────────┴──────┘\n");
}

TEST(ResultPrinterTest, CsvQuotesPerRfc4180) {
  EXPECT_EQ(Print(OutputFormat::kCsv, kColumns, kRows),
            "id,name,note\n"
            "1,Zoë 日本,\n"
            "-2.5e3,\"say \"\"hi\"\", ok\",\"\"\n");
  EXPECT_EQ(CsvField(std::string("a\nb")), "\"a\nb\"");
  EXPECT_EQ(CsvField(std::string("a\rb")), "\"a\rb\"");
}

TEST(ResultPrinterTest, JsonIsAnArrayWithNumbersAndNulls) {
  EXPECT_EQ(Print(OutputFormat::kJson, kColumns, kRows),
            "[\n"
            "{\"id\":1,\"name\":\"Zoë 日本\",\"note\":null},\n"
            "{\"id\":-2.5e3,\"name\":\"say \\\"hi\\\", ok\",\"note\":\"\"}\n"
            "]\n");
  EXPECT_EQ(Print(OutputFormat::kJson, kColumns, {}), "[]\n");
}

TEST(ResultPrinterTest, JsonLinesHasOneObjectPerLine) {
  EXPECT_EQ(Print(OutputFormat::kJsonLines, {"v"}, {{"x"}, {"007"}}),
            "{\"v\":\"x\"}\n{\"v\":\"007\"}\n");
}

TEST(ResultPrinterTest, JsonNumbersFollowJsonGrammar) {
  for (const char* number : {"0", "1", "-0.5", "12.25", "1e5", "-3E-7", "10.0e+2"}) {
    EXPECT_TRUE(IsJsonNumber(number)) << number;
  }
  for (const char* text : {"", "-", "01", "1.", ".5", "1e", "nan", "inf", "-inf", "0x10", " 1",
                           "1 ", "+1", "1,5", "2024-01-01"}) {
    EXPECT_FALSE(IsJsonNumber(text)) << text;
  }
}

TEST(ResultPrinterTest, ParsesFormatNames) {
  EXPECT_EQ(*ParseOutputFormat("csv"), OutputFormat::kCsv);
  EXPECT_EQ(*ParseOutputFormat("jsonl"), OutputFormat::kJsonLines);
  auto bad = ParseOutputFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("table, csv, json or jsonl"), std::string::npos);
  EXPECT_EQ(OutputFormatName(OutputFormat::kJson), "json");
}

}  // namespace
}  // namespace shardlake
