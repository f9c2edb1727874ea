#include "gemini/compare.h"

#include <gtest/gtest.h>

namespace shardlake::gemini {
namespace {

TEST(NormalizeTest, SpellingsOfTheSameValueAgree) {
  EXPECT_EQ(Normalize("t", ValueKind::kBool), Normalize("true", ValueKind::kBool));
  EXPECT_EQ(Normalize("12.3400", ValueKind::kDecimal), "12.34");
  EXPECT_EQ(Normalize("-0.0000", ValueKind::kDecimal), "0");
  EXPECT_EQ(Normalize("-000", ValueKind::kInt), "0");
  EXPECT_EQ(Normalize("2024-03-01 01:02:03.120000", ValueKind::kTimestamp),
            "2024-03-01 01:02:03.12");
  EXPECT_EQ(Normalize("2024-03-01T01:02:03.000", ValueKind::kTimestamp), "2024-03-01 01:02:03");
  EXPECT_EQ(Normalize(std::nullopt, ValueKind::kText), "NULL");
  EXPECT_NE(Normalize("NULL", ValueKind::kText), "NULL");  // a string is never NULL
}

TEST(CompareRowsTest, UnorderedRowsMatchAsMultisets) {
  TextRows test = {{"1", "a"}, {"2", "b"}, {"2", "b"}};
  TextRows oracle = {{"2", "b"}, {"1", "a"}, {"2", "b"}};
  auto result = CompareRows(test, oracle, {"k", "v"}, {ValueKind::kInt, ValueKind::kText}, {});
  EXPECT_TRUE(result.equal);
}

TEST(CompareRowsTest, OrderedRowsMustMatchInOrder) {
  TextRows test = {{"1"}, {"2"}};
  TextRows oracle = {{"2"}, {"1"}};
  CompareOptions ordered;
  ordered.ordered = true;
  EXPECT_FALSE(CompareRows(test, oracle, {"k"}, {ValueKind::kInt}, ordered).equal);
  EXPECT_TRUE(CompareRows(test, oracle, {"k"}, {ValueKind::kInt}, {}).equal);
}

TEST(CompareRowsTest, DoublesWithinToleranceDecimalsExactly) {
  TextRows test = {{"0.30000000000000004", "1.10"}};
  TextRows oracle = {{"0.3", "1.1"}};
  EXPECT_TRUE(
      CompareRows(test, oracle, {"d", "n"}, {ValueKind::kDouble, ValueKind::kDecimal}, {}).equal);
  TextRows off = {{"0.3001", "1.1"}};
  EXPECT_FALSE(
      CompareRows(off, oracle, {"d", "n"}, {ValueKind::kDouble, ValueKind::kDecimal}, {}).equal);
  TextRows decimal_off = {{"0.3", "1.1001"}};
  EXPECT_FALSE(
      CompareRows(decimal_off, oracle, {"d", "n"}, {ValueKind::kDouble, ValueKind::kDecimal}, {})
          .equal);
}

TEST(CompareRowsTest, ReportsMissingRowsOnEachSide) {
  TextRows test = {{"1"}, {"2"}};
  TextRows oracle = {{"1"}, {"3"}, {"4"}};
  auto result = CompareRows(test, oracle, {"k"}, {ValueKind::kInt}, {});
  EXPECT_FALSE(result.equal);
  EXPECT_EQ(result.missing_in_test, (std::vector<std::string>{"(3)", "(4)"}));
  EXPECT_EQ(result.missing_in_oracle, (std::vector<std::string>{"(2)"}));
  EXPECT_EQ(result.Summary(),
            "2 rows in test, 3 in oracle; 2 missing in test, 1 missing in oracle");
}

TEST(CompareRowsTest, PerRowDiffNamesTheColumn) {
  TextRows test = {{"1", "x"}, {"2", std::nullopt}};
  TextRows oracle = {{"1", "x"}, {"2", "y"}};
  auto result = CompareRows(test, oracle, {"k", "v"}, {ValueKind::kInt, ValueKind::kText}, {});
  ASSERT_FALSE(result.equal);
  ASSERT_EQ(result.different_rows.size(), 1u);
  const auto& diff = result.different_rows[0]["diff"];
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0]["column"], "v");
  EXPECT_TRUE(diff[0]["test"].is_null());
  EXPECT_EQ(diff[0]["oracle"], "y");
}

}  // namespace
}  // namespace shardlake::gemini
