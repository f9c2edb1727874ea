#include "cluster/result_batches.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "duck/arrow_wire.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

struct Batch {
  std::string bytes;
  int64_t rows = 0;
};

class ResultBatchesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = duck::Database::Open("");
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    auto connection = duck::Connection::Open(*database_);
    ASSERT_TRUE(connection.ok()) << connection.status();
    connection_ = std::move(*connection);
  }

  // Encodes every chunk of `sql` within `limits`; the batches in order.
  absl::StatusOr<std::vector<Batch>> EncodeQuery(const std::string& sql, const BatchLimits& limits,
                                                 size_t* chunks = nullptr) {
    auto result = connection_->QueryStreaming(sql);
    if (!result.ok()) return result.status();
    std::vector<Batch> batches;
    while (true) {
      auto chunk = (*result)->Fetch();
      if (!chunk.ok()) return chunk.status();
      if (*chunk == nullptr) break;
      if (chunks != nullptr) ++*chunks;
      absl::Status status = EncodeChunkInBatches(*connection_, **result, **chunk, limits,
                                                 [&](std::string bytes, int64_t rows) {
                                                   batches.push_back({std::move(bytes), rows});
                                                   return absl::OkStatus();
                                                 });
      if (!status.ok()) return status;
    }
    return batches;
  }

  // Decodes the batches into a table `name` shaped like `sql`'s result, and
  // checks that it holds exactly `sql`'s rows in the same order (`ordinal`
  // names a column that numbers the rows from 0).
  void ExpectSameRows(const std::vector<Batch>& batches, const std::string& sql,
                      const std::string& ordinal) {
    ASSERT_TRUE(
        connection_->Execute(fmt::format("CREATE OR REPLACE TABLE got AS {} LIMIT 0", sql)).ok());
    auto appender = connection_->OpenAppender("main", "got");
    ASSERT_TRUE(appender.ok()) << appender.status();
    for (const auto& batch : batches) {
      auto decoded = duck::DecodeArrowBatch(batch.bytes);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      auto chunk = connection_->FromArrow(*decoded);
      ASSERT_TRUE(chunk.ok()) << chunk.status();
      EXPECT_EQ(static_cast<int64_t>((*chunk)->RowCount()), batch.rows);
      ASSERT_TRUE((*appender)->AppendChunk(**chunk).ok());
    }
    ASSERT_TRUE((*appender)->Close().ok());
    auto differences = duck::QueryScalar(
        *connection_,
        fmt::format("SELECT count(*) FROM ((SELECT * FROM got EXCEPT ALL ({0})) UNION ALL "
                    "(({0}) EXCEPT ALL SELECT * FROM got))",
                    sql));
    ASSERT_TRUE(differences.ok()) << differences.status();
    EXPECT_EQ(differences->value_or("?"), "0");
    auto ordered = duck::QueryScalar(*connection_,
                                     fmt::format("SELECT bool_and({} = rowid) FROM got", ordinal));
    ASSERT_TRUE(ordered.ok()) << ordered.status();
    EXPECT_EQ(ordered->value_or("?"), "true") << "rows out of order";
  }

  std::unique_ptr<duck::Database> database_;
  std::unique_ptr<duck::Connection> connection_;
};

// 2048 rows of about 10 KB each: one DuckDB chunk of about 20 MB.
constexpr char kWideRows[] = R"sql(
SELECT i, repeat(chr(65 + (i % 26)::INTEGER), 10000) || i::VARCHAR AS wide,
  CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 1.25)::DECIMAL(15,2) END AS amount,
  DATE '1995-01-01' + (i % 3000)::INTEGER AS day,
  CASE WHEN i % 5 = 0 THEN NULL ELSE [i, i + 1] END AS pair
FROM range(2048) AS t(i))sql";

TEST_F(ResultBatchesTest, AChunkOfWideRowsIsCutIntoBatchesWithinTheBound) {
  size_t chunks = 0;
  auto batches = EncodeQuery(kWideRows, BatchLimits{}, &chunks);
  ASSERT_TRUE(batches.ok()) << batches.status();
  EXPECT_EQ(chunks, 1u) << "the test wants one chunk of 2048 rows";
  EXPECT_GE(batches->size(), 5u) << "20 MB in batches of at most 4 MiB";
  int64_t rows = 0;
  for (const auto& batch : *batches) {
    EXPECT_LE(static_cast<int64_t>(batch.bytes.size()), kMaxBatchBytes);
    EXPECT_LE(static_cast<int64_t>(batch.bytes.size()), kMaxResultMessageBytes - 1024);
    rows += batch.rows;
  }
  EXPECT_EQ(rows, 2048);
  ExpectSameRows(*batches, kWideRows, "i");
}

TEST_F(ResultBatchesTest, ASmallChunkIsOneBatch) {
  auto batches = EncodeQuery("SELECT i, i * 2 AS j FROM range(2048) AS t(i)", BatchLimits{});
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 1u);
  EXPECT_EQ((*batches)[0].rows, 2048);
}

TEST_F(ResultBatchesTest, UnevenRowsAreCutAgainAndAHugeRowGoesAlone) {
  // Row 5 alone is larger than the batch bound; rows 30..39 are wide.
  const std::string sql =
      "SELECT i, repeat('x', CASE WHEN i = 5 THEN 200000 WHEN i BETWEEN 30 AND 39 THEN 20000 "
      "ELSE 100 END) AS s FROM range(300) AS t(i)";
  BatchLimits limits{64 << 10, 1 << 20};
  auto batches = EncodeQuery(sql, limits);
  ASSERT_TRUE(batches.ok()) << batches.status();
  int oversized = 0;
  for (const auto& batch : *batches) {
    if (static_cast<int64_t>(batch.bytes.size()) > limits.max_batch_bytes) {
      ++oversized;
      EXPECT_EQ(batch.rows, 1) << "only a single row may pass the batch bound";
      EXPECT_LE(static_cast<int64_t>(batch.bytes.size()), limits.max_row_bytes);
    }
  }
  EXPECT_EQ(oversized, 1);
  ExpectSameRows(*batches, sql, "i");
}

TEST_F(ResultBatchesTest, ARowPastTheRowLimitFailsClearly) {
  BatchLimits limits{64 << 10, 1 << 20};
  auto batches = EncodeQuery(
      "SELECT i, repeat('y', CASE WHEN i = 3 THEN 3000000 ELSE 10 END) AS s "
      "FROM range(10) AS t(i)",
      limits);
  ASSERT_FALSE(batches.ok());
  EXPECT_EQ(batches.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(batches.status().message()).find("MiB"), std::string::npos)
      << batches.status();
}

TEST_F(ResultBatchesTest, TheConsumersErrorStopsTheEncoding) {
  auto result = connection_->QueryStreaming(kWideRows);
  ASSERT_TRUE(result.ok()) << result.status();
  auto chunk = (*result)->Fetch();
  ASSERT_TRUE(chunk.ok() && *chunk != nullptr);
  int calls = 0;
  absl::Status status = EncodeChunkInBatches(*connection_, **result, **chunk, BatchLimits{},
                                             [&](std::string, int64_t) {
                                               ++calls;
                                               return absl::CancelledError("client gone");
                                             });
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

TEST_F(ResultBatchesTest, CopyRowsRefusesARangeOutsideTheChunk) {
  auto result = connection_->QueryStreaming("SELECT i FROM range(100) AS t(i)");
  ASSERT_TRUE(result.ok());
  auto chunk = (*result)->Fetch();
  ASSERT_TRUE(chunk.ok() && *chunk != nullptr);
  EXPECT_EQ((*chunk)->CopyRows(90, 11).status().code(), absl::StatusCode::kInvalidArgument);
  auto tail = (*chunk)->CopyRows(90, 10);
  ASSERT_TRUE(tail.ok()) << tail.status();
  ASSERT_EQ((*tail)->RowCount(), 10u);
  auto value = (*tail)->GetInt64(0, 0);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 90);
}

}  // namespace
}  // namespace shardlake
