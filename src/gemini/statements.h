// The statements of a gemini run: inserts (single rows and batches) and reads
// of many shapes, drawn from a worker's Rng, so a seed gives the same
// sequence. Reads take their keys, times and values from the worker's
// HistoryStore (rows known to exist), falling back to its key pool.
//
// Every read names its columns, and knows the ValueKind of each output column
// (for gemini/compare.h) and whether its ORDER BY is total (then rows are
// compared in order: the ORDER BY lists every output column, or a unique
// group key, with NULLS LAST and byte-order text, `{C}`).
//
// shardlake tables are append-only, so there are no UPDATE or DELETE
// statements.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gemini/compare.h"
#include "gemini/history.h"
#include "gemini/rng.h"
#include "gemini/schema.h"
#include "nlohmann/json.hpp"

namespace shardlake::gemini {

enum class StatementKind {
  kInsert,             // one row
  kInsertBatch,        // 2..N rows in one INSERT
  kPointLookup,        // every partition key = a written tuple
  kKeyRange,           // a key column BETWEEN two written values
  kTimeRange,          // ts in a window around a written time
  kFilteredScan,       // a full scan with a predicate on a value column
  kAggregate,          // count / sum / min / max / avg over a filtered scan
  kGroupBy,            // GROUP BY a key or value column
  kGroupByHaving,      // ... HAVING count(*) > k
  kOrderByLimit,       // rows ORDER BY every column LIMIT n
  kGroupOrderByLimit,  // groups ORDER BY count(*) DESC, key LIMIT n
  kCountDistinct,      // count(DISTINCT column)
};
inline constexpr int kStatementKindCount = 12;

const char* StatementKindName(StatementKind kind);
bool IsWrite(StatementKind kind);

enum class KeyDistribution { kUniform, kNormal, kZipf };

// An index in [0, n) drawn from `distribution`: uniform; normal around n/2
// with sigma n/6 (clamped); zipf-like (log-uniform, P(k) ~ 1/(k+1)).
uint64_t PickIndex(Rng& rng, uint64_t n, KeyDistribution distribution);

// The partition-key tuples of one table (literals, one per partition-key
// column), `count` distinct ones, a pure function of the schema seed.
std::vector<std::vector<std::string>> BuildKeyPool(uint64_t schema_seed, const Table& table,
                                                   size_t table_index, size_t count,
                                                   DatasetSize size);

struct Statement {
  StatementKind kind = StatementKind::kInsert;
  size_t table = 0;
  // Reads are `head [WHERE where [AND exclusion]] tail`; inserts are `head`.
  std::string head;
  std::string where;
  std::string tail;
  std::vector<WrittenRow> rows;  // inserts: the rows written
  std::vector<std::string> column_names;
  std::vector<ValueKind> kinds;
  bool ordered = false;
  nlohmann::json values = nlohmann::json::object();  // the parameters drawn

  // The SQL text, with `exclusion` (a predicate, or "") added to the WHERE.
  std::string Sql(const std::string& exclusion = "") const;
};

// The mix of statements (weights, normalized when drawn).
struct StatementRatios {
  double write_share = 0.5;  // in mixed mode: writes among all statements
  double batch_share = 0.3;  // batched among inserts
  std::map<StatementKind, double> reads = {
      {StatementKind::kPointLookup, 0.2},        {StatementKind::kKeyRange, 0.1},
      {StatementKind::kTimeRange, 0.1},          {StatementKind::kFilteredScan, 0.1},
      {StatementKind::kAggregate, 0.15},         {StatementKind::kGroupBy, 0.1},
      {StatementKind::kGroupByHaving, 0.05},     {StatementKind::kOrderByLimit, 0.08},
      {StatementKind::kGroupOrderByLimit, 0.07}, {StatementKind::kCountDistinct, 0.05}};

  nlohmann::json ToJson() const;
};

class StatementGenerator {
 public:
  // `keys[t]` are the partition-key tuples this worker writes in table t
  // (non-empty); `history` must outlive the generator.
  StatementGenerator(const Schema& schema, std::vector<std::vector<std::vector<std::string>>> keys,
                     Rng rng, DatasetSize size, KeyDistribution distribution, int max_batch_rows,
                     const StatementRatios& ratios, HistoryStore* history);

  // Whether the next statement of a mixed run is a write.
  bool NextIsWrite() { return rng_.Chance(ratios_.write_share); }
  Statement NextWrite();
  absl::StatusOr<Statement> NextRead();

 private:
  size_t PickTable();
  // A written row of `table`, or a fresh one on a pool key when nothing was
  // written yet (reads then simply match nothing).
  absl::StatusOr<WrittenRow> KnownRow(size_t table);
  std::string SelectAll(const Table& table) const;
  // A predicate on a random value column, e.g. `"col3" > 12.5`.
  std::string ValuePredicate(const Table& table, const WrittenRow& row, nlohmann::json* values);
  // The time window `ts >= a AND ts < b` around `row`.
  std::string TimeWindow(const WrittenRow& row, nlohmann::json* values);
  void SetRowColumns(const Table& table, Statement* statement) const;

  const Schema& schema_;
  std::vector<std::vector<std::vector<std::string>>> keys_;
  Rng rng_;
  DatasetSize size_;
  KeyDistribution distribution_;
  int max_batch_rows_;
  StatementRatios ratios_;
  HistoryStore* history_;
};

}  // namespace shardlake::gemini
