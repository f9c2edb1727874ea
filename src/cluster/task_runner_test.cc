#include "cluster/task_runner.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "duck/duck.h"

namespace shardlake {
namespace {

using RowList = std::vector<std::vector<std::optional<std::string>>>;

RowList Rows(duck::Connection& connection, const std::string& sql) {
  auto result = connection.Query(sql);
  EXPECT_TRUE(result.ok()) << sql << ": " << result.status();
  if (!result.ok()) return {};
  auto rows = (*result)->FetchAllAsStrings();
  EXPECT_TRUE(rows.ok()) << rows.status();
  return rows.ok() ? *rows : RowList{};
}

class PrivateCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = duck::Database::Open("", {{"threads", "1"}});
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    for (auto* connection : {&first_, &second_}) {
      auto opened = duck::Connection::Open(*database_);
      ASSERT_TRUE(opened.ok()) << opened.status();
      *connection = std::move(*opened);
    }
  }

  std::unique_ptr<duck::Database> database_;
  std::unique_ptr<duck::Connection> first_;
  std::unique_ptr<duck::Connection> second_;
};

TEST_F(PrivateCatalogTest, SameNamesOnTwoConnectionsStayApart) {
  auto first = PrivateCatalog::Attach(*first_, "__test_");
  auto second = PrivateCatalog::Attach(*second_, "__test_");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(first->name(), second->name());
  ASSERT_TRUE(first_
                  ->Execute("CREATE SCHEMA IF NOT EXISTS main; "
                            "CREATE VIEW main.t AS SELECT 1 AS v")
                  .ok());
  ASSERT_TRUE(second_->Execute("CREATE VIEW t AS SELECT 2 AS v").ok());
  EXPECT_EQ(Rows(*first_, "SELECT v FROM main.t")[0][0], "1");
  EXPECT_EQ(Rows(*second_, "SELECT v FROM main.t")[0][0], "2");
}

TEST_F(PrivateCatalogTest, DestructionDropsEverythingAndRestoresTheDefault) {
  std::string name;
  {
    auto catalog = PrivateCatalog::Attach(*first_, "__test_");
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    name = catalog->name();
    ASSERT_TRUE(first_->Execute("CREATE TABLE partials AS SELECT 42 AS v").ok());
    PrivateCatalog moved = std::move(*catalog);  // the moved-from one must not detach
    EXPECT_EQ(Rows(*first_, "SELECT current_database()")[0][0], name);
  }
  EXPECT_EQ(Rows(*first_, "SELECT current_database()")[0][0], "memory");
  EXPECT_EQ(Rows(*first_, "SELECT count(*) FROM duckdb_databases() WHERE database_name = '" + name +
                              "'")[0][0],
            "0");
  EXPECT_FALSE(first_->Query("SELECT * FROM partials").ok());
}

}  // namespace
}  // namespace shardlake
