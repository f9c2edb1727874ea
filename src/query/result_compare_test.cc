#include "query/result_compare.h"

#include <gtest/gtest.h>

namespace shardlake {
namespace {

TextRow Row(std::initializer_list<std::optional<std::string>> values) { return TextRow(values); }

const std::vector<std::string> kColumns = {"k", "v"};

TEST(ResultCompareTest, UnorderedIgnoresRowOrderButNotMultiplicity) {
  std::vector<TextRow> a = {Row({"1", "x"}), Row({"2", "y"}), Row({"2", "y"})};
  std::vector<TextRow> b = {Row({"2", "y"}), Row({"1", "x"}), Row({"2", "y"})};
  EXPECT_TRUE(CompareResults(kColumns, a, kColumns, b, {}).ok());
  std::vector<TextRow> c = {Row({"2", "y"}), Row({"1", "x"}), Row({"1", "x"})};
  auto status = CompareResults(kColumns, a, kColumns, c, {});
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("1 rows missing"), std::string::npos) << status;
  EXPECT_NE(status.message().find("('2', 'y')"), std::string::npos) << status;
}

TEST(ResultCompareTest, OrderedReportsFirstDifferingRow) {
  std::vector<TextRow> a = {Row({"1", "x"}), Row({"2", "y"})};
  std::vector<TextRow> b = {Row({"2", "y"}), Row({"1", "x"})};
  CompareOptions ordered;
  ordered.ordered = true;
  auto status = CompareResults(kColumns, a, kColumns, b, ordered);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("row 1 differs"), std::string::npos) << status;
  EXPECT_TRUE(CompareResults(kColumns, a, kColumns, b, {}).ok());
}

TEST(ResultCompareTest, ApproximateColumnsUseRelativeTolerance) {
  std::vector<TextRow> a = {Row({"1", "0.30000000000000004"})};
  std::vector<TextRow> b = {Row({"1", "0.3"})};
  std::vector<TextRow> far = {Row({"1", "0.3001"})};
  CompareOptions exact;
  EXPECT_FALSE(CompareResults(kColumns, a, kColumns, b, exact).ok());
  CompareOptions approximate;
  approximate.approximate_columns = {false, true};
  EXPECT_TRUE(CompareResults(kColumns, a, kColumns, b, approximate).ok());
  EXPECT_FALSE(CompareResults(kColumns, a, kColumns, far, approximate).ok());
  // The exact key column still has to match exactly.
  std::vector<TextRow> other_key = {Row({"1.0", "0.3"})};
  EXPECT_FALSE(CompareResults(kColumns, a, kColumns, other_key, approximate).ok());
}

TEST(ResultCompareTest, NullsAndColumnNamesAndCounts) {
  std::vector<TextRow> a = {Row({"1", std::nullopt})};
  std::vector<TextRow> b = {Row({"1", ""})};
  EXPECT_FALSE(CompareResults(kColumns, a, kColumns, b, {}).ok());
  EXPECT_TRUE(CompareResults(kColumns, a, kColumns, a, {}).ok());
  auto names = CompareResults(kColumns, a, {"k", "w"}, a, {});
  EXPECT_NE(names.message().find("columns differ"), std::string::npos) << names;
  CompareOptions ordered;
  ordered.ordered = true;
  auto count = CompareResults(kColumns, a, kColumns, {}, ordered);
  EXPECT_NE(count.message().find("expected 1 rows, got 0"), std::string::npos) << count;
}

}  // namespace
}  // namespace shardlake
