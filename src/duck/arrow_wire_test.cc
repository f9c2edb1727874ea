#include "duck/arrow_wire.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"

namespace shardlake::duck {
namespace {

using Rows = std::vector<std::vector<std::optional<std::string>>>;

// Every column type the TPC-H queries and the differential tester produce,
// plus the nested ones; each column has NULLs at its own phase. DuckDB's
// default Arrow options apply (no string views, no list views, lossy UUID and
// HUGEINT, which DuckDB itself turns into VARCHAR and DECIMAL(38,0)).
constexpr const char* kSourceTable = R"sql(
CREATE TABLE src AS
SELECT i AS id,
  CASE WHEN i % 7 = 0 THEN NULL ELSE i % 3 = 0 END AS b,
  CASE WHEN i % 7 = 1 THEN NULL ELSE (i % 256 - 128)::TINYINT END AS i8,
  CASE WHEN i % 7 = 2 THEN NULL ELSE (i * 7 - 20000)::SMALLINT END AS i16,
  CASE WHEN i % 7 = 3 THEN NULL ELSE (i * 100003 - 2147483647)::INTEGER END AS i32,
  CASE WHEN i % 7 = 4 THEN NULL ELSE i * 1000000007 * (CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END)
  END::BIGINT AS i64,
  CASE WHEN i % 7 = 5 THEN NULL ELSE (i % 256)::UTINYINT END AS u8,
  CASE WHEN i % 7 = 6 THEN NULL ELSE (i * 13)::USMALLINT END AS u16,
  CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 850000)::UINTEGER END AS u32,
  CASE WHEN i % 5 = 1 THEN NULL ELSE (18446744073709551615 - i)::UBIGINT END AS u64,
  CASE WHEN i % 5 = 2 THEN NULL ELSE (i / 7.0)::FLOAT END AS f32,
  CASE WHEN i % 5 = 3 THEN NULL WHEN i = 1 THEN 'nan'::DOUBLE WHEN i = 4 THEN '-inf'::DOUBLE
       WHEN i = 6 THEN -0.0::DOUBLE ELSE i / 3.0 + 1e300 * (i = 8)::INT END AS f64,
  CASE WHEN i % 5 = 4 THEN NULL ELSE (i / 10.0)::DECIMAL(4,1) END AS dec4,
  CASE WHEN i % 6 = 0 THEN NULL ELSE (i * -1.25)::DECIMAL(9,2) END AS dec9,
  CASE WHEN i % 6 = 1 THEN NULL ELSE (i * 123456789.125)::DECIMAL(15,2) END AS dec15,
  CASE WHEN i % 6 = 2 THEN NULL ELSE (i * 12345678901.0001)::DECIMAL(18,4) END AS dec18,
  CASE WHEN i % 6 = 3 THEN NULL
       ELSE (CASE WHEN i % 2 = 0 THEN '-' ELSE '' END || i || '1234567890123456789012.123456789')
       ::DECIMAL(38,9) END AS dec38,
  CASE WHEN i % 6 = 4 THEN NULL WHEN i % 11 = 0 THEN ''
       ELSE 'row ' || i || ' é日本語 "q" ''s'' ' || repeat('x', i % 40) END AS s,
  CASE WHEN i % 6 = 5 THEN NULL ELSE ('\x00\xFF' || i::VARCHAR)::BLOB END AS blob,
  CASE WHEN i % 8 = 0 THEN NULL ELSE DATE '1970-01-01' + (i * 37 - 40000)::INTEGER END AS day,
  CASE WHEN i % 8 = 1 THEN NULL ELSE TIME '00:00:00' + INTERVAL (i * 17) SECOND END AS t,
  CASE WHEN i % 8 = 2 THEN NULL
       ELSE TIMESTAMP '2020-02-29 12:34:56.789012' + INTERVAL (i * 3607) SECOND END AS ts,
  CASE WHEN i % 8 = 3 THEN NULL ELSE (TIMESTAMP '2001-01-01' + INTERVAL (i) DAY)::TIMESTAMP_S
  END AS ts_s,
  CASE WHEN i % 8 = 4 THEN NULL ELSE (TIMESTAMP '1969-12-31 23:59:59.999' - INTERVAL (i) HOUR)
  ::TIMESTAMP_MS END AS ts_ms,
  CASE WHEN i % 8 = 5 THEN NULL ELSE '2262-01-01 00:00:00.123456789'::TIMESTAMP_NS - INTERVAL (i)
  MINUTE END AS ts_ns,
  CASE WHEN i % 8 = 6 THEN NULL ELSE TIMESTAMPTZ '2024-03-31 01:59:59+00' + INTERVAL (i) SECOND
  END AS tstz,
  CASE WHEN i % 8 = 7 THEN NULL ELSE INTERVAL (i) DAY + INTERVAL (i % 13) MONTH
       + INTERVAL (i * 1001) MICROSECOND END AS iv,
  CASE WHEN i % 9 = 0 THEN NULL ELSE (['red', 'green', 'blue'])[i % 3 + 1]::ENUM_COLOR END AS e,
  CASE WHEN i % 9 = 1 THEN NULL WHEN i % 9 = 2 THEN [] ELSE [i, NULL, i * 2][1:(i % 4)] END
  AS list,
  CASE WHEN i % 9 = 3 THEN NULL ELSE {'a': i, 'b': CASE WHEN i % 2 = 0 THEN NULL ELSE 'v' || i
  END} END AS st,
  CASE WHEN i % 9 = 4 THEN NULL ELSE MAP {'k' || i: i, 'z': NULL} END AS m,
  (CASE WHEN i % 9 = 5 THEN NULL ELSE [i, i + 1, NULL] END)::INTEGER[3] AS arr,
  CASE WHEN i % 9 = 6 THEN NULL ELSE [{'x': [i::VARCHAR, NULL]}] END AS nested,
  NULL AS nothing
FROM range({rows}) r(i)
)sql";

class ArrowWireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One thread: the scan returns rows in insertion order.
    auto db = Database::Open("", {{"threads", "1"}});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto conn = Connection::Open(*db_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = std::move(*conn);
    ASSERT_TRUE(conn_->Execute("CREATE TYPE ENUM_COLOR AS ENUM ('red', 'green', 'blue')").ok());
  }

  void MakeSource(int rows) {
    std::string sql = kSourceTable;
    sql.replace(sql.find("{rows}"), 6, std::to_string(rows));
    absl::Status status = conn_->Execute(sql);
    ASSERT_TRUE(status.ok()) << status;
    auto names = conn_->Query("SELECT column_name FROM duckdb_columns() WHERE table_name = 'src'");
    ASSERT_TRUE(names.ok()) << names.status();
    auto rows_of_names = (*names)->FetchAllAsStrings();
    ASSERT_TRUE(rows_of_names.ok());
    columns_.clear();
    for (const auto& row : *rows_of_names) columns_.push_back(*row[0]);
  }

  // SQL listing (id, column index, typeof, value as text) for every value of
  // `table` whose columns are named by `name(i)`.
  std::string ValuesQuery(const std::string& table, bool appended) {
    std::string indexes, types, texts;
    for (size_t i = 0; i < columns_.size(); ++i) {
      std::string column = appended ? fmt::format("col{}", i + 1) : '"' + columns_[i] + '"';
      // DuckDB's own Arrow import reads a dictionary (ENUM) back as VARCHAR;
      // the wire keeps the dictionary (ExpectSameSchema checks that).
      if (!appended && columns_[i] == "e") column += "::VARCHAR";
      std::string sep = i == 0 ? "" : ", ";
      indexes += sep + std::to_string(i);
      types += sep + fmt::format("typeof({})", column);
      texts += sep + fmt::format("{}::VARCHAR", column);
    }
    return fmt::format("SELECT {}, unnest([{}]), unnest([{}]), unnest([{}]) FROM {}",
                       appended ? "col1" : "id", indexes, types, texts, table);
  }

  Rows Fetch(const std::string& sql) {
    auto result = conn_->Query(sql);
    EXPECT_TRUE(result.ok()) << result.status() << "\n" << sql;
    if (!result.ok()) return {};
    auto rows = (*result)->FetchAllAsStrings();
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *rows : Rows{};
  }

  // Encodes each chunk of `SELECT * FROM src`, decodes it, converts it back
  // into DuckDB and returns the encodings.
  std::vector<std::string> RoundTripSource() {
    std::vector<std::string> encodings;
    auto result = conn_->Query("SELECT * FROM src");
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return encodings;
    std::unique_ptr<Appender> appender;
    while (true) {
      auto chunk = (*result)->Fetch();
      EXPECT_TRUE(chunk.ok()) << chunk.status();
      if (!chunk.ok() || *chunk == nullptr) break;
      auto batch = conn_->ToArrow(**result, **chunk);
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok()) break;
      auto bytes = EncodeArrowBatch(*batch);
      EXPECT_TRUE(bytes.ok()) << bytes.status();
      if (!bytes.ok()) break;
      auto decoded = DecodeArrowBatch(*bytes);
      EXPECT_TRUE(decoded.ok()) << decoded.status();
      if (!decoded.ok()) break;
      ExpectSameSchema(*batch->schema(), *decoded->schema());
      encodings.push_back(*bytes);
      auto back = conn_->FromArrow(*decoded);
      EXPECT_TRUE(back.ok()) << back.status();
      if (!back.ok()) break;
      if (appender == nullptr) {
        auto opened = conn_->OpenQueryAppender(
            "INSERT INTO dst " + ValuesQuery("appended_data", /*appended=*/true), **back);
        EXPECT_TRUE(opened.ok()) << opened.status();
        if (!opened.ok()) break;
        appender = std::move(*opened);
      }
      absl::Status appended = appender->AppendChunk(**back);
      EXPECT_TRUE(appended.ok()) << appended;
    }
    if (appender != nullptr) {
      absl::Status closed = appender->Close();
      EXPECT_TRUE(closed.ok()) << closed;
    }
    return encodings;
  }

  void ExpectSameSchema(const ArrowSchema& a, const ArrowSchema& b) {
    EXPECT_STREQ(a.format, b.format);
    EXPECT_STREQ(a.name != nullptr ? a.name : "", b.name != nullptr ? b.name : "");
    EXPECT_EQ(a.flags, b.flags);
    ASSERT_EQ(a.n_children, b.n_children);
    for (int64_t i = 0; i < a.n_children; ++i) ExpectSameSchema(*a.children[i], *b.children[i]);
    ASSERT_EQ(a.dictionary != nullptr, b.dictionary != nullptr);
    if (a.dictionary != nullptr) ExpectSameSchema(*a.dictionary, *b.dictionary);
  }

  void ExpectSameValues() {
    Rows expected = Fetch(ValuesQuery("src", false) + " ORDER BY 1, 2");
    Rows actual = Fetch("SELECT * FROM dst ORDER BY 1, 2");
    ASSERT_EQ(expected.size(), actual.size());
    int mismatches = 0;
    for (size_t i = 0; i < expected.size() && mismatches < 10; ++i) {
      if (expected[i] != actual[i]) {
        ++mismatches;
        ADD_FAILURE() << "row " << *expected[i][0] << " column "
                      << columns_[std::stoul(*expected[i][1])] << ": expected " << *expected[i][2]
                      << " " << expected[i][3].value_or("NULL") << ", got "
                      << actual[i][2].value_or("?") << " " << actual[i][3].value_or("NULL");
      }
    }
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> conn_;
  std::vector<std::string> columns_;
};

TEST_F(ArrowWireTest, EveryTypeRoundTripsThroughDuckDbAcrossChunks) {
  MakeSource(5000);  // three chunks: 2048, 2048, 904 rows
  ASSERT_TRUE(
      conn_->Execute("CREATE TABLE dst (id BIGINT, col INTEGER, type VARCHAR, text VARCHAR)").ok());
  std::vector<std::string> encodings = RoundTripSource();
  EXPECT_EQ(encodings.size(), 3u);
  ExpectSameValues();
  Rows count = Fetch("SELECT count(*) FROM dst");
  ASSERT_EQ(count.size(), 1u);
  EXPECT_EQ(*count[0][0], std::to_string(5000 * columns_.size()));
}

TEST_F(ArrowWireTest, EmptyBatchRoundTrips) {
  // A zero-row chunk is not produced by DuckDB's fetch; build one by slicing
  // a one-row batch down to nothing.
  auto one = conn_->Query("SELECT 1::INTEGER AS a, 'x' AS s, [1] AS l");
  ASSERT_TRUE(one.ok());
  auto chunk = (*one)->Fetch();
  ASSERT_TRUE(chunk.ok() && *chunk != nullptr);
  auto batch = conn_->ToArrow(**one, **chunk);
  ASSERT_TRUE(batch.ok());
  batch->array()->length = 0;
  auto bytes = EncodeArrowBatch(*batch);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto decoded = DecodeArrowBatch(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->length(), 0);
  EXPECT_EQ(decoded->array()->children[1]->length, 0);
  auto back = conn_->FromArrow(*decoded);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->RowCount(), 0u);
}

TEST_F(ArrowWireTest, OffsetsAreKeptAndBuffersTrimmed) {
  auto result = conn_->Query(
      "SELECT i::INTEGER AS n, CASE WHEN i % 3 = 0 THEN NULL ELSE 'v' || i END AS s, "
      "[i, i + 1] AS l FROM range(100) r(i)");
  ASSERT_TRUE(result.ok());
  auto chunk = (*result)->Fetch();
  ASSERT_TRUE(chunk.ok() && *chunk != nullptr);
  auto batch = conn_->ToArrow(**result, **chunk);
  ASSERT_TRUE(batch.ok());
  auto full = EncodeArrowBatch(*batch);
  ASSERT_TRUE(full.ok());
  // Rows 10..19 only: each column starts at slot 10 and the batch is 10 long.
  ArrowArray* array = batch->array();
  array->length = 10;
  for (int64_t i = 0; i < array->n_children; ++i) {
    array->children[i]->offset = 10;
    array->children[i]->length = 90;
  }
  auto sliced = EncodeArrowBatch(*batch);
  ASSERT_TRUE(sliced.ok()) << sliced.status();
  EXPECT_LT(sliced->size() * 3, full->size());  // buffers end at slot 20, not 100
  auto decoded = DecodeArrowBatch(*sliced);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->array()->children[0]->offset, 10);
  EXPECT_EQ(decoded->array()->children[1]->null_count, 3);  // rows 12, 15, 18
  auto back = conn_->FromArrow(*decoded);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ((*back)->RowCount(), 10u);
  for (size_t row = 0; row < 10; ++row) {
    EXPECT_EQ(*(*back)->GetInt64(0, row), static_cast<int64_t>(row + 10));
    EXPECT_EQ((*back)->IsNull(1, row), (row + 10) % 3 == 0);
    if ((row + 10) % 3 != 0) {
      EXPECT_EQ(*(*back)->GetString(1, row), fmt::format("v{}", row + 10));
    }
  }
}

TEST_F(ArrowWireTest, DecodedChildOutlivesItsParent) {
  auto result = conn_->Query("SELECT 'abc' || i AS s FROM range(10) r(i)");
  ASSERT_TRUE(result.ok());
  auto chunk = (*result)->Fetch();
  ASSERT_TRUE(chunk.ok() && *chunk != nullptr);
  auto batch = conn_->ToArrow(**result, **chunk);
  ASSERT_TRUE(batch.ok());
  auto bytes = EncodeArrowBatch(*batch);
  ASSERT_TRUE(bytes.ok());
  ArrowArray moved;
  {
    auto decoded = DecodeArrowBatch(*bytes);
    ASSERT_TRUE(decoded.ok());
    // Move the column out, as the C data interface allows.
    ArrowArray* child = decoded->array()->children[0];
    std::memcpy(&moved, child, sizeof(ArrowArray));
    child->release = nullptr;
  }  // the batch and its parent array are released here
  ASSERT_NE(moved.release, nullptr);
  const auto* offsets = static_cast<const int32_t*>(moved.buffers[1]);
  const auto* text = static_cast<const char*>(moved.buffers[2]);
  EXPECT_EQ(std::string(text + offsets[9], offsets[10] - offsets[9]), "abc9");
  moved.release(&moved);
  EXPECT_EQ(moved.release, nullptr);
}

void NoRelease(ArrowSchema*) {}
void NoReleaseArray(ArrowArray*) {}

TEST_F(ArrowWireTest, UnknownFormatIsUnimplemented) {
  ArrowBatch batch;
  ArrowSchema child{};
  child.format = "vu";  // string view
  child.name = "sv";
  child.release = NoRelease;
  ArrowSchema* children[] = {&child};
  batch.schema()->format = "+s";
  batch.schema()->n_children = 1;
  batch.schema()->children = children;
  batch.schema()->release = NoRelease;
  batch.array()->release = NoReleaseArray;
  auto bytes = EncodeArrowBatch(batch);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(bytes.status().message().find("'vu'"), std::string::npos) << bytes.status();
  batch.schema()->release = nullptr;
  batch.array()->release = nullptr;
}

TEST(ArrowWireDecodeTest, RejectsForeignBytes) {
  for (std::string_view bytes :
       {std::string_view(""), std::string_view("SLA"),
        std::string_view("PAR1xxxxxxxxxxxxxxxxxxxxx"), std::string_view("SLAW\x02", 5)}) {
    auto decoded = DecodeArrowBatch(bytes);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// Truncations and bit flips of a real encoding: every truncation fails with
// InvalidArgument; a flip either fails the same way or decodes into a batch
// that DuckDB converts (or refuses) without reading out of bounds. Run under
// -fsanitize=address,undefined to check the last part.
TEST_F(ArrowWireTest, DamagedBytesAreRejectedWithoutCrashing) {
  MakeSource(60);
  auto result = conn_->Query("SELECT * FROM src");
  ASSERT_TRUE(result.ok());
  auto chunk = (*result)->Fetch();
  ASSERT_TRUE(chunk.ok() && *chunk != nullptr);
  auto batch = conn_->ToArrow(**result, **chunk);
  ASSERT_TRUE(batch.ok());
  auto bytes = EncodeArrowBatch(*batch);
  ASSERT_TRUE(bytes.ok());
  const std::string& good = *bytes;

  for (size_t size = 0; size < good.size(); ++size) {
    auto decoded = DecodeArrowBatch(std::string_view(good).substr(0, size));
    ASSERT_FALSE(decoded.ok()) << "truncated to " << size << " of " << good.size();
    ASSERT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  }
  auto appended = DecodeArrowBatch(good + "x");
  EXPECT_FALSE(appended.ok());

  std::mt19937_64 random(20260613);  // fixed seed: failures reproduce
  constexpr int kFlips = 4000;
  int rejected = 0, converted = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int flip = 0; flip < kFlips && std::chrono::steady_clock::now() < deadline; ++flip) {
    std::string damaged = good;
    size_t bit = random() % (damaged.size() * 8);
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    auto decoded = DecodeArrowBatch(damaged);
    if (!decoded.ok()) {
      ASSERT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << decoded.status();
      ++rejected;
      continue;
    }
    auto back = conn_->FromArrow(*decoded);
    if (back.ok()) {
      ++converted;
      // Render every value: DuckDB reads the whole chunk.
      for (size_t column = 0; column < (*back)->ColumnCount(); ++column) {
        for (size_t row = 0; row < (*back)->RowCount(); ++row) {
          if (!(*back)->IsNull(column, row)) (void)(*back)->GetString(column, row);
        }
      }
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(converted, 0);  // flips in values decode into other values
}

}  // namespace
}  // namespace shardlake::duck
