#include "duck/duck.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace shardlake::duck {
namespace {

class DuckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open("");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto conn = Connection::Open(*db_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = std::move(*conn);
  }
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(DuckTest, QueryReadsTypedValues) {
  auto result = conn_->Query(
      "SELECT 42::BIGINT AS i, 2.5::DOUBLE AS d, 'hé' AS s, NULL::INTEGER AS n, true AS b, "
      "'2026-01-01 00:00:01.000000002'::TIMESTAMP_NS AS t");
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ((*result)->ColumnCount(), 6u);
  EXPECT_EQ((*result)->ColumnName(2), "s");
  EXPECT_EQ((*result)->ColumnKind(5), TypeKind::kTimestampNs);
  auto chunk = (*result)->Fetch();
  ASSERT_TRUE(chunk.ok());
  ASSERT_NE(*chunk, nullptr);
  DataChunk& c = **chunk;
  ASSERT_EQ(c.RowCount(), 1u);
  EXPECT_EQ(*c.GetInt64(0, 0), 42);
  EXPECT_DOUBLE_EQ(*c.GetDouble(1, 0), 2.5);
  EXPECT_EQ(*c.GetString(2, 0), "hé");
  EXPECT_TRUE(c.IsNull(3, 0));
  EXPECT_FALSE(c.IsNull(0, 0));
  EXPECT_TRUE(*c.GetBool(4, 0));
  EXPECT_EQ(*c.GetInt64(5, 0), 1767225601000000002LL);
  EXPECT_FALSE(c.GetInt64(2, 0).ok());  // VARCHAR is not an integer
  auto end = (*result)->Fetch();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, nullptr);
}

TEST_F(DuckTest, ParserErrorCarriesPosition) {
  auto result = conn_->Query("SELECT * FROM WHERE x = 1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("syntax error"), std::string::npos);
  EXPECT_NE(result.status().message().find("LINE 1"), std::string::npos);
}

TEST_F(DuckTest, UnknownTableIsNotFound) {
  auto result = conn_->Query("SELECT * FROM nope");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DuckTest, PreparedStatementBindsParameters) {
  ASSERT_TRUE(conn_->Execute("CREATE TABLE t (a BIGINT, b VARCHAR, c DOUBLE, d BOOLEAN)").ok());
  auto insert = conn_->Prepare("INSERT INTO t VALUES ($1, $2, $3, $4)");
  ASSERT_TRUE(insert.ok()) << insert.status();
  EXPECT_EQ((*insert)->ParameterCount(), 4u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*insert)->BindInt64(1, i).ok());
    ASSERT_TRUE((*insert)->BindString(2, "v" + std::to_string(i)).ok());
    ASSERT_TRUE((*insert)->BindDouble(3, i * 1.5).ok());
    ASSERT_TRUE((i == 1 ? (*insert)->BindNull(4) : (*insert)->BindBool(4, i == 0)).ok());
    auto r = (*insert)->Execute();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ((*r)->RowsChanged(), 1);
  }
  EXPECT_FALSE((*insert)->BindInt64(9, 1).ok());
  auto rows = conn_->Query("SELECT a::VARCHAR, b, c::VARCHAR, d::VARCHAR FROM t ORDER BY a");
  ASSERT_TRUE(rows.ok());
  auto all = (*rows)->FetchAllAsStrings();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(*(*all)[2][1], "v2");
  EXPECT_EQ(*(*all)[2][2], "3.0");
  EXPECT_FALSE((*all)[1][3].has_value());
}

TEST_F(DuckTest, AppenderAppendsRowsAndReportsErrors) {
  ASSERT_TRUE(conn_->Execute("CREATE TABLE t (a BIGINT, b VARCHAR)").ok());
  {
    auto appender = conn_->OpenAppender("main", "t");
    ASSERT_TRUE(appender.ok()) << appender.status();
    for (int i = 0; i < 5000; ++i) {
      ASSERT_TRUE((*appender)->AppendInt64(i).ok());
      ASSERT_TRUE((*appender)->AppendString("x").ok());
      ASSERT_TRUE((*appender)->EndRow().ok());
    }
    ASSERT_TRUE((*appender)->Close().ok());
  }
  auto count = QueryScalar(*conn_, "SELECT count(*) FROM t");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(**count, "5000");
  EXPECT_FALSE(conn_->OpenAppender("main", "missing").ok());
  auto appender = conn_->OpenAppender("main", "t");
  ASSERT_TRUE(appender.ok());
  ASSERT_TRUE((*appender)->AppendInt64(1).ok());
  EXPECT_FALSE((*appender)->EndRow().ok());  // one column short
}

TEST_F(DuckTest, StreamingResultDeliversAllRowsAndErrors) {
  auto result = conn_->QueryStreaming("SELECT i FROM range(100000) r(i)");
  ASSERT_TRUE(result.ok()) << result.status();
  int64_t rows = 0;
  int64_t sum = 0;
  while (true) {
    auto chunk = (*result)->Fetch();
    ASSERT_TRUE(chunk.ok()) << chunk.status();
    if (*chunk == nullptr) break;
    for (size_t row = 0; row < (*chunk)->RowCount(); ++row) sum += *(*chunk)->GetInt64(0, row);
    rows += (*chunk)->RowCount();
  }
  EXPECT_EQ(rows, 100000);
  EXPECT_EQ(sum, 100000LL * 99999 / 2);

  // A conversion failure surfaces either when execution starts or while
  // fetching, but always as InvalidArgument, never as a silent end of data.
  auto failing = conn_->QueryStreaming(
      "SELECT CASE WHEN i < 90000 THEN '1' ELSE 'x' END::INTEGER FROM range(100000) r(i)");
  absl::Status status = failing.status();
  while (status.ok()) {
    auto chunk = (*failing)->Fetch();
    if (!chunk.ok()) {
      status = chunk.status();
      break;
    }
    if (*chunk == nullptr) break;
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

TEST_F(DuckTest, ArrowRoundTripKeepsValues) {
  auto result = conn_->Query(
      "SELECT i::BIGINT AS i, (i * 0.25)::DECIMAL(12,2) AS dec, 'row' || i AS s, "
      "CASE WHEN i % 3 = 0 THEN NULL ELSE i::DOUBLE END AS d, "
      "DATE '2026-01-01' + i::INTEGER AS day, "
      "TIMESTAMP_NS '2026-01-01 00:00:00.000000001' AS t FROM range(100) r(i)");
  ASSERT_TRUE(result.ok()) << result.status();
  auto chunk = (*result)->Fetch();
  ASSERT_TRUE(chunk.ok() && *chunk != nullptr);
  auto batch = conn_->ToArrow(**result, **chunk);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->length(), 100);
  auto back = conn_->FromArrow(*batch);
  ASSERT_TRUE(back.ok()) << back.status();
  DataChunk& c = **back;
  ASSERT_EQ(c.RowCount(), 100u);
  for (size_t row = 0; row < 100; ++row) {
    EXPECT_EQ(*c.GetInt64(0, row), static_cast<int64_t>(row));
    EXPECT_EQ(*c.GetString(2, row), "row" + std::to_string(row));
    EXPECT_EQ(c.IsNull(3, row), row % 3 == 0);
    if (row % 3 != 0) {
      EXPECT_DOUBLE_EQ(*c.GetDouble(3, row), static_cast<double>(row));
    }
    EXPECT_EQ(*c.GetInt64(4, row), 20454 + static_cast<int64_t>(row));
    EXPECT_EQ(*c.GetInt64(5, row), 1767225600000000001LL);
  }
}

TEST_F(DuckTest, ReferencedTablesUsesParser) {
  auto names =
      conn_->ReferencedTables("SELECT * FROM a.b JOIN c ON true WHERE x IN (SELECT 1 FROM d.e)");
  ASSERT_TRUE(names.ok()) << names.status();
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"a.b", "c", "d.e"}));
}

TEST(DuckDatabaseTest, BadOptionIsInvalidArgument) {
  auto db = Database::Open("", {{"no_such_option", "1"}});
  EXPECT_FALSE(db.ok());
}

TEST(DuckDatabaseTest, ExtensionSettingIsAppliedAfterOpening) {
  auto db = Database::Open("", {{"parquet_metadata_cache", "true"}, {"threads", "1"}});
  ASSERT_TRUE(db.ok()) << db.status();
  auto conn = Connection::Open(**db);
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto result = (*conn)->Query(
      "SELECT current_setting('parquet_metadata_cache')::VARCHAR, "
      "current_setting('threads')::VARCHAR");
  ASSERT_TRUE(result.ok()) << result.status();
  auto rows = (*result)->FetchAllAsStrings();
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0], "true");
  EXPECT_EQ((*rows)[0][1], "1");
}

TEST(DuckDatabaseTest, BadExtensionSettingValueIsInvalidArgument) {
  auto db = Database::Open("", {{"parquet_metadata_cache", "maybe'"}});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument) << db.status();
}

}  // namespace
}  // namespace shardlake::duck
