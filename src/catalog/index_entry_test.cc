#include "catalog/index_entry.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace shardlake {
namespace {

using nlohmann::json;

constexpr int64_t k62 = int64_t{1} << 62;

IndexEntry SampleEntry() {
  IndexEntry e;
  e.layer = "hot";
  e.database = "metrics";
  e.table = "cpu";
  e.path = "date=2026-01-01/hour=05/8f1c.3.parquet";
  e.size_bytes = 4096;
  e.row_count = 100;
  e.chunk_time = k62 + 5;
  e.min = {{"v", -1.5}, {"host", "a"}, {"n", k62 + 1}, {"ok", false}};
  e.max = {{"v", 2.25}, {"host", "z"}, {"n", k62 + 9}, {"ok", true}};
  e.min_time = k62 + 1;
  e.max_time = k62 + 9;
  e.writer_id = "w1";
  return e;
}

TEST(IndexEntryJsonTest, RoundTrip) {
  IndexEntry e = SampleEntry();
  json j = IndexEntryToJson(e);
  EXPECT_EQ(j["layer"], "hot");
  EXPECT_EQ(j["database"], "metrics");
  EXPECT_EQ(j["table"], "cpu");
  EXPECT_EQ(j["path"], e.path);
  EXPECT_EQ(j["size_bytes"], 4096);
  EXPECT_EQ(j["row_count"], 100);
  EXPECT_EQ(j["chunk_time"].get<int64_t>(), k62 + 5);
  EXPECT_EQ(j["min_time"].get<int64_t>(), k62 + 1);
  EXPECT_EQ(j["max_time"].get<int64_t>(), k62 + 9);
  EXPECT_EQ(j["writer_id"], "w1");
  EXPECT_EQ(j["min"]["host"], "a");

  auto back = IndexEntryFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, e);
  // Through text as well.
  auto reparsed = IndexEntryFromJson(json::parse(j.dump()));
  ASSERT_TRUE(reparsed.ok()) << reparsed.status();
  EXPECT_EQ(*reparsed, e);
}

TEST(IndexEntryJsonTest, GigapiRedisStyleStringsWin) {
  // As stored by GigAPI's Redis backend: numeric times zeroed, exact values in
  // decimal strings, plus fields shardlake ignores.
  json j = json::parse(R"({
    "cmd": "ADD", "layer": "default", "database": "mydb", "table": "weather",
    "path": "date=2025-04-10/hour=14/0d5e.1.parquet", "size_bytes": 2048, "row_count": 7,
    "chunk_time": 0, "min_time": 0, "max_time": 0,
    "str_chunk_time": "1744294800123456789", "str_min_time": "4611686018427387905",
    "str_max_time": "4611686018427387911", "min": null, "max": {}, "writer_id": "",
    "time_s": 17})");
  auto e = IndexEntryFromJson(j);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->chunk_time, 1744294800123456789);
  EXPECT_EQ(e->min_time, k62 + 1);
  EXPECT_EQ(e->max_time, k62 + 7);
  EXPECT_EQ(e->database, "mydb");
  EXPECT_EQ(e->size_bytes, 2048);
  EXPECT_EQ(e->min, json::object());
  EXPECT_EQ(e->max, json::object());

  // Empty strings do not win.
  j["str_min_time"] = "";
  j["min_time"] = 12;
  e = IndexEntryFromJson(j);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->min_time, 12);
}

TEST(IndexEntryJsonTest, MissingOptionalFieldsDefault) {
  auto e = IndexEntryFromJson(json{{"path", "a.1.parquet"}});
  ASSERT_TRUE(e.ok()) << e.status();
  IndexEntry expected;
  expected.path = "a.1.parquet";
  EXPECT_EQ(*e, expected);
  EXPECT_EQ(e->layer, "default");
}

TEST(IndexEntryJsonTest, IntegralDoublesAreAccepted) {
  // Lua's cjson re-encodes integers as doubles.
  auto e = IndexEntryFromJson(json{{"path", "a.1.parquet"}, {"size_bytes", 1.0e6}});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->size_bytes, 1000000);
}

TEST(IndexEntryJsonTest, BadFieldTypesAreRejected) {
  json good = IndexEntryToJson(SampleEntry());
  struct Case {
    const char* field;
    json value;
  };
  const Case cases[] = {
      {"layer", 1},
      {"database", true},
      {"table", json::array()},
      {"path", 5},
      {"size_bytes", "12"},
      {"row_count", 1.5},
      {"chunk_time", json::object()},
      {"min_time", "0"},
      {"max_time", 18446744073709551615u},
      {"min", "x"},
      {"max", json::array({1, 2})},
      {"writer_id", 3},
      {"str_min_time", 5},
      {"str_max_time", "12abc"},
      {"str_chunk_time", "99999999999999999999"},
  };
  for (const Case& c : cases) {
    json j = good;
    j[c.field] = c.value;
    auto e = IndexEntryFromJson(j);
    ASSERT_FALSE(e.ok()) << c.field;
    EXPECT_TRUE(absl::IsInvalidArgument(e.status())) << e.status();
    EXPECT_NE(std::string(e.status().message()).find(c.field), std::string::npos) << e.status();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(IndexEntryFromJson(json::array()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(IndexEntryFromJson(json{{"layer", "x"}}).status()));
}

TEST(IndexEntryPathTest, FolderOfPath) {
  EXPECT_EQ(FolderOfPath("date=2026-01-01/hour=05/x.1.parquet"), "date=2026-01-01/hour=05");
  EXPECT_EQ(FolderOfPath("date=2026-01-01/x.1.parquet"), "date=2026-01-01");
  EXPECT_EQ(FolderOfPath("x.1.parquet"), "");
  EXPECT_EQ(FolderOfPath(""), "");
}

TEST(IndexEntryPathTest, IterationOfPath) {
  EXPECT_EQ(IterationOfPath("date=2026-01-01/hour=05/8f1c.1.parquet"), 1);
  EXPECT_EQ(IterationOfPath("8f1c.12.parquet"), 12);
  EXPECT_EQ(IterationOfPath("a/b.c.4.parquet"), 4);
  EXPECT_EQ(IterationOfPath("8f1c.parquet"), 0);
  EXPECT_EQ(IterationOfPath("7.parquet"), 0);
  EXPECT_EQ(IterationOfPath("8f1c..parquet"), 0);
  EXPECT_EQ(IterationOfPath("8f1c.x1.parquet"), 0);
  EXPECT_EQ(IterationOfPath("8f1c.1.csv"), 0);
  EXPECT_EQ(IterationOfPath("dir.3/file.parquet"), 0);
  EXPECT_EQ(IterationOfPath("a.99999999999999999999.parquet"), 0);
  EXPECT_EQ(IterationOfPath(""), 0);
}

TEST(TableSchemaTest, JsonRoundTripAndColumnIndex) {
  TableSchema schema{
      "db", "t", {{"ts", "TIMESTAMP_NS"}, {"host", "VARCHAR"}, {"v", "DECIMAL(18,3)"}},
      "ts", 2,   k62};
  EXPECT_EQ(schema.ColumnIndex("host"), 1);
  EXPECT_EQ(schema.ColumnIndex("nope"), -1);
  json j = TableSchemaToJson(schema);
  EXPECT_EQ(j["columns"][2]["type"], "DECIMAL(18,3)");
  auto back = TableSchemaFromJson(json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, schema);
}

TEST(TableSchemaTest, BadJsonIsRejected) {
  json good = TableSchemaToJson(TableSchema{"db", "t", {{"x", "BIGINT"}}, "", 1, 0});
  ASSERT_TRUE(TableSchemaFromJson(good).ok());
  for (const char* field : {"database", "table", "columns"}) {
    json j = good;
    j.erase(field);
    auto s = TableSchemaFromJson(j);
    EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << field;
    EXPECT_NE(std::string(s.status().message()).find(field), std::string::npos);
  }
  json j = good;
  j["columns"] = json::array({json{{"name", "x"}, {"type", 3}}});
  EXPECT_TRUE(absl::IsInvalidArgument(TableSchemaFromJson(j).status()));
  j = good;
  j["version"] = "1";
  EXPECT_TRUE(absl::IsInvalidArgument(TableSchemaFromJson(j).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(TableSchemaFromJson(json(3)).status()));
}

}  // namespace
}  // namespace shardlake
