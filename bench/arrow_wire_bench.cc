// arrow_wire_bench: the cost of carrying result batches over the wire.
//
// Builds --rows rows shaped like TPC-H lineitem (integers, DECIMAL(15,2),
// dates, short and long strings, with NULLs) in DuckDB, then times per run:
//   baseline: DuckDB's own chunk -> Arrow -> chunk conversion (ToArrow + FromArrow),
//             which a worker and the server pay with or without the wire
//             (DuckDB runs with one thread, so thread CPU time covers it);
//   wire:     EncodeArrowBatch + DecodeArrowBatch of the same batches.
// Times are the calling thread's CPU time (medians of --runs). Reports MB/s of encoded bytes, bytes
// per row, and the wire's time as a fraction of the baseline. Goal: the wire costs at most as much
// as DuckDB's conversion (ratio <= 1.0), so it does not dominate result transport.
#include <time.h>

#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench_util.h"
#include "duck/arrow_wire.h"
#include "duck/duck.h"
#include "fmt/format.h"

namespace {

using shardlake::bench::Die;
using shardlake::bench::Median;
constexpr const char* kName = "arrow_wire_bench";

constexpr const char* kLineitemLike = R"sql(
CREATE TABLE t AS SELECT
  i AS l_orderkey, (i % 200000)::INTEGER AS l_partkey, (i % 10000)::INTEGER AS l_suppkey,
  (i % 7)::INTEGER AS l_linenumber, ((i % 50) + 1)::DECIMAL(15,2) AS l_quantity,
  (i * 0.37 % 100000)::DECIMAL(15,2) AS l_extendedprice, (i % 11 / 100)::DECIMAL(15,2) AS l_discount,
  CASE WHEN i % 97 = 0 THEN NULL ELSE (i % 9 / 100)::DECIMAL(15,2) END AS l_tax,
  (['A', 'N', 'R'])[i % 3 + 1] AS l_returnflag, (['O', 'F'])[i % 2 + 1] AS l_linestatus,
  DATE '1992-01-01' + (i % 2500)::INTEGER AS l_shipdate,
  DATE '1992-01-31' + (i % 2500)::INTEGER AS l_commitdate,
  (['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'])[i % 4 + 1] AS l_shipinstruct,
  (['AIR', 'MAIL', 'SHIP', 'TRUCK', 'RAIL', 'FOB', 'REG AIR'])[i % 7 + 1] AS l_shipmode,
  'carefully ironic requests ' || (i * 7919 % 100003)::VARCHAR AS l_comment
FROM range({rows}) r(i)
)sql";

// CPU seconds this thread spends in `body`: the figure other processes on a
// busy machine do not inflate (wall time is reported beside it).
double CpuSecondsOf(const std::function<void()>& body) {
  timespec start = {}, end = {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  body();
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
  return static_cast<double>(end.tv_sec - start.tv_sec) +
         static_cast<double>(end.tv_nsec - start.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1'000'000;
  int runs = 5;
  shardlake::bench::CommonOptions common;
  CLI::App app{"arrow_wire_bench: Arrow wire encode/decode against DuckDB's Arrow conversion"};
  app.add_option("--rows", rows, "rows of lineitem-like data")
      ->check(CLI::Range(2048, 100'000'000));
  app.add_option("--runs", runs, "timed runs (median is reported)")->check(CLI::Range(1, 100));
  shardlake::bench::AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);

  auto database = shardlake::duck::Database::Open("", {{"threads", "1"}});
  if (!database.ok()) Die(kName, database.status().ToString());
  auto connection = shardlake::duck::Connection::Open(**database);
  if (!connection.ok()) Die(kName, connection.status().ToString());
  shardlake::duck::Connection& conn = **connection;
  std::string create = kLineitemLike;
  create.replace(create.find("{rows}"), 6, std::to_string(rows));
  if (auto status = conn.Execute(create); !status.ok()) Die(kName, status.ToString());

  std::vector<double> baseline_seconds, encode_seconds, decode_seconds;
  int64_t encoded_bytes = 0;
  for (int run = 0; run < runs; ++run) {
    auto result = conn.Query("SELECT * FROM t");
    if (!result.ok()) Die(kName, result.status().ToString());
    // Chunks first, so that neither side is charged for the scan.
    std::vector<std::unique_ptr<shardlake::duck::DataChunk>> chunks;
    while (true) {
      auto chunk = (*result)->Fetch();
      if (!chunk.ok()) Die(kName, chunk.status().ToString());
      if (*chunk == nullptr) break;
      chunks.push_back(std::move(*chunk));
    }
    double baseline = 0, encode = 0, decode = 0;
    encoded_bytes = 0;
    for (auto& chunk : chunks) {
      // Baseline: chunk -> Arrow -> chunk in DuckDB.
      baseline += CpuSecondsOf([&] {
        auto batch = conn.ToArrow(**result, *chunk);
        if (!batch.ok()) Die(kName, batch.status().ToString());
        auto back = conn.FromArrow(*batch);
        if (!back.ok()) Die(kName, back.status().ToString());
      });
      auto batch = conn.ToArrow(**result, *chunk);
      if (!batch.ok()) Die(kName, batch.status().ToString());
      std::string bytes;
      encode += CpuSecondsOf([&] {
        auto encoded = shardlake::duck::EncodeArrowBatch(*batch);
        if (!encoded.ok()) Die(kName, encoded.status().ToString());
        bytes = std::move(*encoded);
      });
      encoded_bytes += static_cast<int64_t>(bytes.size());
      decode += CpuSecondsOf([&] {
        auto decoded = shardlake::duck::DecodeArrowBatch(bytes);
        if (!decoded.ok()) Die(kName, decoded.status().ToString());
      });
    }
    baseline_seconds.push_back(baseline);
    encode_seconds.push_back(encode);
    decode_seconds.push_back(decode);
  }
  double baseline = Median(baseline_seconds);
  double encode = Median(encode_seconds);
  double decode = Median(decode_seconds);
  double megabytes = static_cast<double>(encoded_bytes) / 1e6;
  shardlake::bench::Report report;
  report.Add(
      fmt::format("{} rows of 15 lineitem-like columns, {:.1f} MB encoded ({:.1f} bytes/row)",
                  shardlake::bench::Grouped(rows), megabytes,
                  static_cast<double>(encoded_bytes) / static_cast<double>(rows)));
  report.Add(fmt::format("DuckDB ToArrow + FromArrow: {:.1f} ms CPU", baseline * 1e3));
  report.Add(fmt::format("EncodeArrowBatch: {:.1f} ms CPU ({:.0f} MB/s)", encode * 1e3,
                         megabytes / encode));
  report.Add(fmt::format("DecodeArrowBatch (validating): {:.1f} ms CPU ({:.0f} MB/s)", decode * 1e3,
                         megabytes / decode));
  double ratio = (encode + decode) / baseline;
  report.Goal("wire encode+decode / DuckDB Arrow conversion <= 1.0", fmt::format("{:.2f}", ratio),
              ratio <= 1.0);
  report.Publish(kName, common.results_dir);
  return 0;
}
