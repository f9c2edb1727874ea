// File pruning: which Parquet files of a table a query can skip.
//
// The analysis reads DuckDB's own AST (json_serialize_sql), never SQL text:
// every SELECT node's WHERE clause is split into AND-ed conjuncts, and each
// conjunct of the form `column <op> constant-expression` (op one of = < <= > >=,
// BETWEEN, IN (...)), with the column resolved to a lake table of that SELECT's
// FROM clause, becomes a range constraint on that table reference. Constant
// expressions may be any column-free, subquery-free, non-volatile expression
// (e.g. now() - INTERVAL 1 HOUR); DuckDB evaluates them.
//
// Pruning is conservative by construction:
// - each reference to a table gets its own file set when the query can be
//   rewritten (RewriteReferences); otherwise the table keeps the union of what
//   its references need; a reference with no usable predicate keeps every file;
// - a constant is evaluated both cast to the column's type and in the widest
//   type; if the two differ, the envelope is used and widened by the column
//   type's resolution (1 us for TIMESTAMP, 1 day for DATE, a relative 1e-6
//   for numbers) with inclusive bounds, so DuckDB's implicit-cast choices can
//   never exclude a match; only when they agree may `<` and `>` stay strict,
//   and only on exact statistics (temporal ns, strings);
// - string bounds are used only against VARCHAR literals (byte order, as
//   DuckDB compares without a collation).
// Comparisons with NULL-extended rows of outer joins are safe because every
// constraint used is null-rejecting.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/index.h"
#include "catalog/index_entry.h"
#include "common/column_types.h"
#include "duck/duck.h"
#include "nlohmann/json.hpp"

namespace shardlake {

using StatValue = std::variant<int64_t, double, std::string>;

// A range constraint on one column. Bounds are inclusive unless marked strict
// (strict only where the comparison is exact: see pruning.cc).
struct ColumnConstraint {
  std::string column;
  StatDomain domain = StatDomain::kNone;
  std::optional<StatValue> lo;
  std::optional<StatValue> hi;
  bool lo_strict = false;
  bool hi_strict = false;
};

// The constraints of one reference to a table (AND-ed).
struct ReferenceConstraints {
  std::vector<ColumnConstraint> constraints;
};

// What a query needs from one lake table: the union over its references.
struct TableNeeds {
  std::string database;
  std::string table;
  std::vector<ReferenceConstraints> references;

  // The time window [after, before] (ns) to ask the catalog for, or nullopt on
  // a side that some reference leaves open.
  std::optional<int64_t> After(const TableSchema& schema) const;
  std::optional<int64_t> Before(const TableSchema& schema) const;
};

// True unless the entry's statistics prove no row can match any reference.
bool EntryMayMatch(const IndexEntry& entry, const TableSchema& schema, const TableNeeds& needs);

// Result of analysing one SELECT statement.
struct QueryAnalysis {
  // Lake tables referenced, keyed by "database.table".
  std::map<std::string, TableNeeds> tables;
  // Every BASE_TABLE reference of the AST in traversal order: the lake table
  // it resolves to ("" if none) and what that reference alone needs.
  struct Reference {
    std::string table_key;
    ReferenceConstraints constraints;
  };
  std::vector<Reference> references;
  // The query's AST as DuckDB serialized it.
  nlohmann::json ast;
  // Names referenced that resolve neither to a lake table, a CTE, nor a
  // DuckDB system schema (for "unknown table" errors).
  std::vector<std::string> unknown_tables;
};

// Looks up a table schema; returns nullptr if the table does not exist.
using SchemaLookup =
    std::function<const TableSchema*(const std::string& database, const std::string& table)>;

// Analyses `sql` (a query: SELECT/WITH/VALUES/FROM...). Uses `connection` to
// obtain the AST and to evaluate constant expressions. Unqualified table names
// resolve to `default_database`. Errors: DuckDB's parser error (with its
// position) for malformed SQL.
absl::StatusOr<QueryAnalysis> AnalyzeQuery(duck::Connection& connection, const std::string& sql,
                                           const std::string& default_database,
                                           const SchemaLookup& lookup);

// The query with each lake-table reference i for which `view_names[i]` is
// non-empty replaced by that view (keeping the reference's visible name as its
// alias), as SQL from DuckDB's deserializer. Errors: FailedPrecondition when
// the query cannot be rewritten safely (e.g. it uses schema.table.column
// references); callers then fall back to one view per table.
absl::StatusOr<std::string> RewriteReferences(duck::Connection& connection,
                                              const QueryAnalysis& analysis,
                                              const std::vector<std::string>& view_names);

}  // namespace shardlake
