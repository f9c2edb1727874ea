// Comparing one query's rows from the system under test with the oracle's.
//
// Each column has a ValueKind, known from the query that produced it; cells
// are normalized per kind before comparing, so the targets' spellings agree
// (PostgreSQL's `t` and DuckDB's `true`, `12.5000` and `12.5`, trailing zeros
// of fractional seconds). Doubles (and AVG results, whatever type a target
// gives them) are equal within a relative tolerance; integers, decimals,
// text, booleans, dates and timestamps exactly.
//
// Rows are compared as multisets unless the query orders them, and then
// position by position. A difference reports the rows missing on either side
// and, when both sides have as many rows, a per-column diff of rows that
// differ.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gemini/schema.h"
#include "gemini/target.h"
#include "nlohmann/json.hpp"

namespace shardlake::gemini {

enum class ValueKind { kInt, kDouble, kDecimal, kText, kBool, kDate, kTimestamp };

ValueKind KindOf(ColumnType type);

// The normalized text of a cell ("NULL" for NULL, never a value's spelling).
std::string Normalize(const std::optional<std::string>& cell, ValueKind kind);

struct Comparison {
  bool equal = true;
  int64_t test_rows = 0;
  int64_t oracle_rows = 0;
  // Rows (normalized, as "(a, b, NULL)") one side has more often than the other.
  std::vector<std::string> missing_in_test;
  std::vector<std::string> missing_in_oracle;
  // When both sides have as many rows: the rows at the same (sorted) position
  // that differ, with the differing columns.
  nlohmann::json different_rows = nlohmann::json::array();

  // {test_rows, oracle_rows, missing_in_test, missing_in_oracle, different_rows},
  // lists cut at `max_items` entries.
  nlohmann::json ToJson() const;
  // One line: "3 rows in test, 4 in oracle: 1 missing in test, ..."
  std::string Summary() const;
};

struct CompareOptions {
  bool ordered = false;              // the query has a total ORDER BY
  double relative_tolerance = 1e-9;  // for kDouble
  size_t max_items = 20;             // rows listed per kind of difference
};

Comparison CompareRows(const TextRows& test, const TextRows& oracle,
                       const std::vector<std::string>& column_names,
                       const std::vector<ValueKind>& kinds, const CompareOptions& options);

}  // namespace shardlake::gemini
