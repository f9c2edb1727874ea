// Source analysis for the distributed planner: which tables a query reads,
// which of them are sliced among workers and which are read whole, and
// whether evaluating the query's row sources per slice and concatenating the
// results gives exactly the rows the whole query would produce.
//
// The rule: every sliced table instance anywhere in the query (FROM clauses,
// joins, derived tables, subqueries) must be connected to the others by
// equalities of shard keys (join conditions, WHERE conjuncts, IN subqueries,
// correlation predicates), so that rows that meet in the query meet in one
// bucket; outer joins must preserve the sliced side; a subquery that
// aggregates, de-duplicates or limits sliced rows must do so within one
// bucket (grouped by a shard key, or correlated on one).
//
// Thread-safety: one thread at a time.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "query/distributed_planner.h"
#include "query/planner_ast.h"

namespace shardlake::planner {

struct SourceAnalysis {
  bool ok = false;
  std::string reason;  // when !ok: why the sources cannot be sliced
  std::vector<std::string> sliced_tables;
  std::vector<std::string> whole_tables;
  bool slice_by_bucket = false;
  std::vector<std::string> notes;
  // Column names of the top-level FROM clause's relations, when all are
  // known (used to tell a GROUP BY column from a select alias).
  std::set<std::string> top_level_columns;
  bool top_level_columns_known = false;
  // A shard key of a bucket-sliced table that the top-level GROUP BY names
  // directly, so every group lies within one bucket; empty if none.
  std::string grouping_shard_key;
};

// Analyzes the sources of a top-level SELECT node. `aggregates` are the
// lower-case names of DuckDB's aggregate functions.
SourceAnalysis AnalyzeSources(const Json& select_node, const TableLayoutLookup& lookup,
                              const std::set<std::string>& aggregates);

// True when `expression` contains an aggregate function outside subqueries.
bool ContainsAggregate(const Json& expression, const std::set<std::string>& aggregates);

std::string LowerCase(std::string text);

}  // namespace shardlake::planner
