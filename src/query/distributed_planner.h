// DistributedPlanner: splits one SQL query into a worker query, run by every
// worker over its slice of the data, and a coordinator query that merges the
// workers' partial results into the exact answer the query has on one node.
//
// The planner works on DuckDB's own AST (json_serialize_sql /
// json_deserialize_sql), never on SQL text. It only distributes a query when
// the merged answer is provably the single-node answer; anything else gets
// `distributed == false` and a `reason` (the server then runs the query over
// all files itself, and EXPLAIN shows the reason). docs/planner.md lists what
// distributes (partial aggregates, co-located and broadcast joins, correlated
// subqueries on shard keys, inlined CTEs, scans with LIMIT pushdown) and why.
//
// Execution contract (what the cluster does with a plan):
//  1. The files of every table in `sliced_tables` are split into disjoint
//     slices that together cover every file exactly once. With
//     `slice_by_bucket`, a slice is a set of bucket numbers and holds, for
//     every sliced table, the files of those buckets (so rows with equal
//     co-location keys meet in one slice); otherwise a slice is any set of
//     files of the single sliced table.
//  2. Each task runs `worker_sql` in a DuckDB where each sliced table is a view
//     (same schema-qualified name as on a single node) over the task's slice,
//     and each table in `whole_tables` a view over all its files.
//  3. The rows of all tasks (their column names are `partial_columns`) are
//     appended to a table named kPartialsTable on the coordinator.
//  4. `coordinator_sql`, run over that table, gives the final answer (rows,
//     column names and, where the query orders, row order).
//
// Thread-safety: a DistributedPlanner is used by one thread at a time.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "duck/duck.h"

namespace shardlake {

// The table the coordinator reads the union of the workers' results from.
inline constexpr char kPartialsTable[] = "__shardlake_partials";

// How a lake table's rows are spread over its files.
enum class Placement {
  // Any row may be in any file: files may be split among workers freely, but
  // the table cannot be joined with another sliced table.
  kPartitioned,
  // Rows hashed on `shard_key` into `bucket_count` buckets; a file holds rows
  // of one bucket (its path starts with "bucket=NN/"). Tables of one
  // `colocation_group` (same bucket_count) keep equal keys in equal buckets.
  kSharded,
  // Every file is a full copy's part that is small: read whole by every task
  // (broadcast), never sliced.
  kReplicated,
};

struct TableLayout {
  std::string name;  // "db.table", as the catalog names it
  Placement placement = Placement::kPartitioned;
  std::string shard_key;         // kSharded only
  std::string colocation_group;  // kSharded only
  int bucket_count = 0;          // kSharded only
  // The table's column names, when known. Optional but recommended: the
  // planner resolves unqualified column names with them. Without them, an
  // unqualified name that equals a table's shard key binds to that table in
  // its own query (DuckDB rejects it as ambiguous otherwise), but a name in a
  // subquery cannot be proven to be an outer query's column, so such
  // correlated subqueries (TPC-H Q4) fall back.
  std::vector<std::string> columns;
  // DuckDB type names of `columns`, in the same order ("DATE",
  // "DECIMAL(15,2)", as the catalog schema stores them). Optional but
  // recommended: with them the planner checks that the distributed answer
  // has the single-node column types and splits avg() of temporal values;
  // without them, a query with avg() falls back (its split depends on the
  // argument's type).
  std::vector<std::string> column_types;
};

struct DistributedPlan {
  bool distributed = false;
  // Why the query runs on the server only (distributed == false), e.g.
  // "correlated subquery", "join of lineitem and partsupp is not co-located".
  std::string reason;

  std::string worker_sql;
  std::string coordinator_sql;
  // Names of worker_sql's columns, in order. Empty when the query selects
  // `*` without an aggregate: the worker's columns are then the tables' own
  // (take the names from the first worker result).
  std::vector<std::string> partial_columns;

  std::vector<std::string> sliced_tables;  // "db.table"
  std::vector<std::string> whole_tables;   // "db.table", read whole by every task
  bool slice_by_bucket = false;

  // Human-readable lines for EXPLAIN: how each aggregate was split, where
  // LIMIT/ORDER BY/HAVING run, why a join is co-located or broadcast.
  std::vector<std::string> notes;
};

// Returns the layout of a lake table given its name as written in the query
// ("lineitem", "main.lineitem"), or nullopt when it is not a lake table.
using TableLayoutLookup = std::function<std::optional<TableLayout>(const std::string& name)>;

class DistributedPlanner {
 public:
  // `connection` is used only to parse and deserialize SQL; it must outlive
  // the planner.
  explicit DistributedPlanner(duck::Connection& connection) : connection_(connection) {}

  // Plans one SELECT statement. A query that cannot be distributed is not an
  // error: it returns distributed == false with a reason. Errors:
  // InvalidArgument for SQL DuckDB cannot parse or that is not one statement.
  absl::StatusOr<DistributedPlan> Plan(const std::string& sql, const TableLayoutLookup& lookup);

 private:
  absl::StatusOr<DistributedPlan> PlanTree(const std::string& sql, const TableLayoutLookup& lookup);

  duck::Connection& connection_;
  // Lower-case names of DuckDB's aggregate functions, read once from
  // duckdb_functions() so that an aggregate the planner does not know is
  // never mistaken for a scalar function.
  std::optional<std::set<std::string>> aggregate_functions_;
  // Lower-case names of the functions duckdb_functions() does not mark
  // CONSISTENT (random, now, nextval, ...): never evaluated on a worker.
  std::optional<std::set<std::string>> volatile_functions_;
};

}  // namespace shardlake
