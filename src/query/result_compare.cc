#include "query/result_compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace shardlake {
namespace {

std::optional<double> ParseNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
  return value;
}

bool NearlyEqual(const std::string& a, const std::string& b, double tolerance) {
  auto x = ParseNumber(a);
  auto y = ParseNumber(b);
  if (!x || !y) return false;
  if (std::isnan(*x) || std::isnan(*y)) return std::isnan(*x) && std::isnan(*y);
  if (std::isinf(*x) || std::isinf(*y)) return *x == *y;
  double scale = std::max(std::fabs(*x), std::fabs(*y));
  return std::fabs(*x - *y) <= tolerance * scale;
}

bool ValuesEqual(const std::optional<std::string>& a, const std::optional<std::string>& b,
                 bool approximate, double tolerance) {
  if (!a || !b) return !a && !b;
  if (*a == *b) return true;
  return approximate && NearlyEqual(*a, *b, tolerance);
}

bool RowsEqual(const TextRow& a, const TextRow& b, const CompareOptions& options) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    bool approximate = i < options.approximate_columns.size() && options.approximate_columns[i];
    if (!ValuesEqual(a[i], b[i], approximate, options.relative_tolerance)) return false;
  }
  return true;
}

std::string RenderRow(const TextRow& row) {
  std::string text = "(";
  for (size_t i = 0; i < row.size(); ++i) {
    if (i > 0) text += ", ";
    text += row[i] ? "'" + *row[i] + "'" : "NULL";
  }
  return text + ")";
}

std::string RenderRows(const std::vector<const TextRow*>& rows, size_t limit) {
  std::string text;
  for (size_t i = 0; i < rows.size() && i < limit; ++i) text += "\n    " + RenderRow(*rows[i]);
  if (rows.size() > limit) text += fmt::format("\n    ... and {} more", rows.size() - limit);
  return text;
}

// Sort key for multiset matching: approximate columns are left out, so rows
// that differ only within tolerance sort next to each other.
std::string SortKey(const TextRow& row, const CompareOptions& options) {
  std::string key;
  for (size_t i = 0; i < row.size(); ++i) {
    bool approximate = i < options.approximate_columns.size() && options.approximate_columns[i];
    if (approximate) continue;
    key += row[i] ? "v" + *row[i] : "n";
    key += '\x1f';
  }
  return key;
}

}  // namespace

absl::Status CompareResults(const std::vector<std::string>& expected_columns,
                            const std::vector<TextRow>& expected,
                            const std::vector<std::string>& actual_columns,
                            const std::vector<TextRow>& actual, const CompareOptions& options) {
  if (expected_columns != actual_columns) {
    return absl::FailedPreconditionError(fmt::format("columns differ: expected ({}), got ({})",
                                                     fmt::join(expected_columns, ", "),
                                                     fmt::join(actual_columns, ", ")));
  }
  if (options.ordered) {
    for (size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
      if (!RowsEqual(expected[i], actual[i], options)) {
        return absl::FailedPreconditionError(fmt::format("row {} differs: expected {}, got {}",
                                                         i + 1, RenderRow(expected[i]),
                                                         RenderRow(actual[i])));
      }
    }
    if (expected.size() != actual.size()) {
      return absl::FailedPreconditionError(
          fmt::format("expected {} rows, got {}", expected.size(), actual.size()));
    }
    return absl::OkStatus();
  }

  // Unordered: group rows by their exact columns, then match within a group
  // (groups are small; approximate values are matched greedily).
  std::vector<std::pair<std::string, const TextRow*>> left, right;
  for (const auto& row : expected) left.emplace_back(SortKey(row, options), &row);
  for (const auto& row : actual) right.emplace_back(SortKey(row, options), &row);
  auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::stable_sort(left.begin(), left.end(), by_key);
  std::stable_sort(right.begin(), right.end(), by_key);
  std::vector<const TextRow*> missing, unexpected;
  size_t l = 0, r = 0;
  while (l < left.size() || r < right.size()) {
    if (r == right.size() || (l < left.size() && left[l].first < right[r].first)) {
      missing.push_back(left[l++].second);
    } else if (l == left.size() || right[r].first < left[l].first) {
      unexpected.push_back(right[r++].second);
    } else {
      size_t l_end = l, r_end = r;
      while (l_end < left.size() && left[l_end].first == left[l].first) ++l_end;
      while (r_end < right.size() && right[r_end].first == right[r].first) ++r_end;
      std::vector<bool> used(r_end - r, false);
      for (size_t i = l; i < l_end; ++i) {
        bool matched = false;
        for (size_t j = r; j < r_end && !matched; ++j) {
          if (!used[j - r] && RowsEqual(*left[i].second, *right[j].second, options)) {
            used[j - r] = matched = true;
          }
        }
        if (!matched) missing.push_back(left[i].second);
      }
      for (size_t j = r; j < r_end; ++j) {
        if (!used[j - r]) unexpected.push_back(right[j].second);
      }
      l = l_end;
      r = r_end;
    }
  }
  if (missing.empty() && unexpected.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(fmt::format(
      "results differ ({} expected rows, {} actual): {} rows missing{}; {} unexpected rows{}",
      expected.size(), actual.size(), missing.size(),
      RenderRows(missing, options.max_reported_rows), unexpected.size(),
      RenderRows(unexpected, options.max_reported_rows)));
}

}  // namespace shardlake
