#include "catalog/index_entry.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"

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
  EXPECT_EQ(e->min.json(), json::object());
  EXPECT_EQ(e->max.json(), json::object());

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

namespace shardlake {
namespace {

// The fast text decoder must agree with the general path on every input.
void ExpectSameAsGeneralPath(const std::string& text) {
  absl::StatusOr<IndexEntry> fast = IndexEntryFromJsonText(text);
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  absl::StatusOr<IndexEntry> general = parsed.is_discarded()
                                           ? absl::InvalidArgumentError("not valid JSON")
                                           : IndexEntryFromJson(parsed);
  ASSERT_EQ(fast.ok(), general.ok())
      << text << "\nfast: " << fast.status() << "\ngeneral: " << general.status();
  if (fast.ok()) {
    EXPECT_EQ(*fast, *general) << text;
  } else {
    EXPECT_EQ(fast.status().code(), general.status().code()) << text;
  }
}

TEST(IndexEntryFromJsonTextTest, AgreesWithTheGeneralPath) {
  const std::vector<std::string> texts = {
      // shardlake's own form and GigAPI's Redis form.
      R"({"layer":"default","database":"db","table":"t","path":"date=2026-01-01/hour=05/a.1.parquet","size_bytes":1000,"row_count":10,"chunk_time":1767225600000000001,"min":{"v":-3,"d":1.5,"s":"abc","b":true,"n":null},"max":{"v":4611686018427387904,"d":2.5e10,"s":"abd","b":false},"min_time":1767225600000000001,"max_time":1767225601000000000,"writer_id":"w"})",
      R"({"cmd":"ADD","database":"db","table":"t","path":"date=2026-01-01/hour=05/a.1.parquet","size_bytes":10,"row_count":1,"chunk_time":0,"min_time":0,"max_time":0,"str_min_time":"1767225600000000001","str_max_time":"1767225600000000002","str_chunk_time":"1767225600000000003","min":null,"max":{},"layer":"default","writer_id":"","time_s":1767225610})",
      // Forms the general path must decide.
      R"({"path":"a.1.parquet","size_bytes":1.7e18})",
      R"({"path":"a.1.parquet","min":{"nested":{"x":1}}})",
      R"({"path":"a.1.parquet","min":{"arr":[1,2]}})",
      R"({"path":"a\/b.1.parquet"})",
      "{\"path\":\"caf\xc3\xa9.1.parquet\"}",
      "{\"path\":\"bad\xff.1.parquet\"}",
      R"({"path":"a.1.parquet","size_bytes":01})",
      R"({"path":"a.1.parquet","min":{"d":1.}})",
      R"({"path":"a.1.parquet","min":{"d":.5}})",
      R"({"path":"a.1.parquet","size_bytes":18446744073709551615})",
      R"({"path":"a.1.parquet","str_min_time":"12x"})",
      R"({"path":"a.1.parquet","str_min_time":""})",
      R"({"path":"a.1.parquet","unknown":1})",
      R"({"path":"a.1.parquet","size_bytes":"10"})",
      R"({"table":"t"})",
      R"({"path":"a.1.parquet"} trailing)",
      R"([1,2,3])",
      R"({"path":"a.1.parquet",})",
      R"(  { "path" : "a.1.parquet" , "row_count" : -5 }  )",
      "",
      "{",
  };
  for (const auto& text : texts) ExpectSameAsGeneralPath(text);
}

TEST(ParseStatsJsonTest, AgreesWithTheGeneralParser) {
  const std::vector<std::string> texts = {
      "{}",
      R"({"a":1,"b":-2.5e3,"c":"x","d":true,"e":null,"f":4611686018427387904})",
      R"({"z":1,"a":2})",
      R"({"a":{"b":1}})",
      R"({"a":[1]})",
      R"({"a":"\u00e9"})",
      "{\"a\":\"caf\xc3\xa9\"}",
      R"({"a":1.0})",
      R"({"a":1e400})",
      R"({"a":01})",
      "not json",
      R"({"a":1} x)",
      R"( { "a" : 1 } )",
      R"({"a":18446744073709551615})"};
  for (const auto& text : texts) {
    nlohmann::json fast = ParseStatsJson(text);
    nlohmann::json general = nlohmann::json::parse(text, nullptr, false);
    EXPECT_EQ(fast.is_discarded(), general.is_discarded()) << text;
    if (!general.is_discarded()) {
      EXPECT_EQ(fast, general) << text;
      EXPECT_EQ(fast.dump(), general.dump()) << text;  // same number kinds, too
    }
  }
}

TEST(IndexEntryFromJsonTextTest, RoundTripsRandomEntries) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 500; ++i) {
    IndexEntry e;
    e.database = "db" + std::to_string(rng() % 10);
    e.table = "t";
    e.path =
        fmt::format("date=2026-01-01/hour={:02d}/{}.{}.parquet", rng() % 24, rng(), 1 + rng() % 5);
    e.size_bytes = static_cast<int64_t>(rng() >> 1);
    e.row_count = static_cast<int64_t>(rng() % 1000000);
    e.chunk_time = static_cast<int64_t>(rng() >> 1);
    e.min_time = static_cast<int64_t>(rng() >> 2);
    e.max_time = e.min_time + static_cast<int64_t>(rng() % 1000000);
    e.min = {{"i", static_cast<int64_t>(rng()) >> 1}, {"d", static_cast<double>(rng() % 1000) / 7}};
    e.max = {{"s", "x" + std::to_string(rng())}, {"b", (rng() & 1) != 0}};
    e.writer_id = "w";
    std::string text = IndexEntryToJson(e).dump();
    auto decoded = IndexEntryFromJsonText(text);
    ASSERT_TRUE(decoded.ok()) << decoded.status() << " " << text;
    EXPECT_EQ(*decoded, e) << text;
  }
}

}  // namespace
}  // namespace shardlake
