// Comparison of two query results given as text rows (the form ResultSink
// delivers), used to check a distributed answer against the single-node one.
//
// Values compare exactly, except in columns marked approximate (DOUBLE and
// FLOAT results, whose last bits depend on summation order): there two values
// are equal when both parse as numbers within `relative_tolerance` of each
// other (or both are NaN / the same infinity). NULL equals only NULL.
// Unordered comparison matches rows as a multiset; ordered comparison also
// requires the same row order.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace shardlake {

using TextRow = std::vector<std::optional<std::string>>;

struct CompareOptions {
  bool ordered = false;
  // One flag per column; missing entries mean exact.
  std::vector<bool> approximate_columns;
  double relative_tolerance = 1e-9;
  // At most this many differing rows are described in the error.
  size_t max_reported_rows = 5;
};

// OK when `actual` equals `expected`. Otherwise FailedPrecondition whose
// message names the first difference: column names, row counts, the rows
// missing from each side (unordered) or the first differing position
// (ordered), rendered as text.
absl::Status CompareResults(const std::vector<std::string>& expected_columns,
                            const std::vector<TextRow>& expected,
                            const std::vector<std::string>& actual_columns,
                            const std::vector<TextRow>& actual, const CompareOptions& options);

}  // namespace shardlake
