#include "query/sql_lexer.h"

#include <gtest/gtest.h>

namespace shardlake {
namespace {

TEST(SqlLexerTest, SplitsRespectingQuotesAndComments) {
  auto statements =
      SplitSqlStatements("SELECT 'a;b' AS \"x;y\"; -- c;d\n SELECT $$e;f$$ /* g;h */ ;;  SELECT 3");
  ASSERT_TRUE(statements.ok()) << statements.status();
  ASSERT_EQ(statements->size(), 3u);
  EXPECT_EQ((*statements)[0], "SELECT 'a;b' AS \"x;y\"");
  EXPECT_NE((*statements)[1].find("$$e;f$$"), std::string::npos);
  EXPECT_EQ((*statements)[2], "  SELECT 3");
}

TEST(SqlLexerTest, UnterminatedQuoteIsAnError) {
  EXPECT_FALSE(SplitSqlStatements("SELECT 'abc").ok());
  EXPECT_FALSE(SplitSqlStatements("SELECT /* never closed").ok());
  auto empty = SplitSqlStatements("  ; -- only a comment\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(SqlLexerTest, ParsesCreateTableHead) {
  auto head = ParseStatementHead(
      "create or replace table IF NOT EXISTS Metrics.\"Cpu\" (time TIMESTAMP_NS)");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->kind, StatementKind::kCreateTable);
  EXPECT_TRUE(head->or_replace);
  EXPECT_TRUE(head->if_not_exists);
  EXPECT_EQ(head->target.database, "metrics");
  EXPECT_EQ(head->target.table, "Cpu");
  EXPECT_FALSE(head->create_as_select);
}

TEST(SqlLexerTest, InsertTargetSpanCoversTheName) {
  std::string sql = "INSERT INTO metrics.cpu (host) VALUES ('a')";
  auto head = ParseStatementHead(sql);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->kind, StatementKind::kInsert);
  EXPECT_EQ(sql.substr(head->target_begin, head->target_end - head->target_begin), "metrics.cpu");
  EXPECT_EQ(sql.substr(head->source_begin), "VALUES ('a')");
  std::string by_name = "INSERT INTO t BY NAME SELECT 1 AS a";
  EXPECT_EQ(by_name.substr(ParseStatementHead(by_name)->source_begin), "SELECT 1 AS a");
  std::string nested = "INSERT INTO t (a, b) (SELECT (1), 2)";
  EXPECT_EQ(nested.substr(ParseStatementHead(nested)->source_begin), "(SELECT (1), 2)");
}

TEST(SqlLexerTest, ClassifiesStatements) {
  auto kind = [](const std::string& sql) { return ParseStatementHead(sql)->kind; };
  EXPECT_EQ(kind("/* c */ WITH x AS (SELECT 1) SELECT * FROM x"), StatementKind::kQuery);
  EXPECT_EQ(kind("(SELECT 1)"), StatementKind::kQuery);
  EXPECT_EQ(kind("FROM t"), StatementKind::kQuery);
  EXPECT_EQ(kind("EXPLAIN SELECT 1"), StatementKind::kExplain);
  EXPECT_EQ(kind("DROP TABLE IF EXISTS a.b"), StatementKind::kDropTable);
  EXPECT_EQ(kind("DESCRIBE a.b"), StatementKind::kDescribe);
  EXPECT_EQ(kind("SET threads = 2"), StatementKind::kSession);
  EXPECT_EQ(kind("UPDATE t SET a = 1"), StatementKind::kUnsupported);
}

TEST(SqlLexerTest, CopyToExportsAQuery) {
  auto head = ParseStatementHead("COPY (SELECT (1) AS a FROM m.t) TO 'x.csv' (HEADER)");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->kind, StatementKind::kCopyTo);
  EXPECT_EQ(head->copy_query, "SELECT (1) AS a FROM m.t");
  auto table = ParseStatementHead("COPY m.t TO 'x.parquet'");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->copy_query, "SELECT * FROM \"m\".\"t\"");
  EXPECT_FALSE(ParseStatementHead("COPY m.t FROM 'x.csv'").ok());
}

TEST(SqlLexerTest, RejectsMalformedHeads) {
  EXPECT_FALSE(ParseStatementHead("INSERT INTO").ok());
  EXPECT_FALSE(ParseStatementHead("INSERT INTO a.b.c VALUES (1)").ok());
  EXPECT_FALSE(ParseStatementHead("INSERT OR REPLACE INTO t VALUES (1)").ok());
  EXPECT_FALSE(ParseStatementHead("CREATE TEMP TABLE t (a INT)").ok());
  EXPECT_FALSE(ParseStatementHead("CREATE VIEW v AS SELECT 1").ok());
  EXPECT_FALSE(ParseStatementHead("DROP VIEW v").ok());
}

}  // namespace
}  // namespace shardlake
