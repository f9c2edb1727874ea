#include "gemini/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "fmt/format.h"

namespace shardlake::gemini {
namespace {

// "-0012.3400" -> "-12.34"; "+5" -> "5"; "-0.000" -> "0". Text that is not a
// plain decimal number is returned unchanged.
std::string NormalizeDecimal(std::string text) {
  bool negative = false;
  size_t at = 0;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    at = 1;
  }
  std::string digits = text.substr(at);
  if (digits.empty() || digits.find_first_not_of("0123456789.") != std::string::npos) {
    return text;
  }
  size_t dot = digits.find('.');
  std::string whole = dot == std::string::npos ? digits : digits.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : digits.substr(dot + 1);
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  size_t first = whole.find_first_not_of('0');
  whole = first == std::string::npos ? "0" : whole.substr(first);
  std::string out = whole;
  if (!fraction.empty()) out += "." + fraction;
  if (negative && out != "0") out = "-" + out;
  return out;
}

std::string NormalizeTimestamp(std::string text) {
  if (text.size() > 10 && text[10] == 'T') text[10] = ' ';
  size_t dot = text.find('.');
  if (dot != std::string::npos) {
    size_t end = dot + 1;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    std::string fraction = text.substr(dot + 1, end - dot - 1);
    while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
    text = text.substr(0, dot) + (fraction.empty() ? "" : "." + fraction) + text.substr(end);
  }
  return text;
}

bool ParseDouble(const std::string& text, double* value) {
  char* end = nullptr;
  *value = std::strtod(text.c_str(), &end);
  return end != text.c_str() && *end == '\0';
}

bool CellsEqual(const std::optional<std::string>& a, const std::optional<std::string>& b,
                ValueKind kind, double tolerance) {
  if (!a.has_value() || !b.has_value()) return a.has_value() == b.has_value();
  if (kind == ValueKind::kDouble) {
    double x = 0;
    double y = 0;
    if (ParseDouble(*a, &x) && ParseDouble(*b, &y)) {
      if (x == y) return true;
      double scale = std::max({std::fabs(x), std::fabs(y), 1.0});
      return std::fabs(x - y) <= tolerance * scale;
    }
  }
  return Normalize(a, kind) == Normalize(b, kind);
}

using Key = std::vector<std::string>;

// Sort keys: normalized cells, doubles rounded to 10 significant digits so
// that rows equal within tolerance sort alike.
Key SortKey(const TextRow& row, const std::vector<ValueKind>& kinds) {
  Key key;
  for (size_t c = 0; c < row.size(); ++c) {
    ValueKind kind = c < kinds.size() ? kinds[c] : ValueKind::kText;
    double value = 0;
    if (kind == ValueKind::kDouble && row[c].has_value() && ParseDouble(*row[c], &value)) {
      key.push_back(fmt::format("{:.10g}", value));
    } else {
      key.push_back(Normalize(row[c], kind));
    }
  }
  return key;
}

std::string Render(const Key& key) {
  std::string out = "(";
  for (size_t i = 0; i < key.size(); ++i) {
    if (i > 0) out += ", ";
    out += key[i];
  }
  return out + ")";
}

}  // namespace

ValueKind KindOf(ColumnType type) {
  switch (type) {
    case ColumnType::kBigInt:
    case ColumnType::kInteger:
    case ColumnType::kSmallInt:
      return ValueKind::kInt;
    case ColumnType::kDouble:
      return ValueKind::kDouble;
    case ColumnType::kDecimal:
      return ValueKind::kDecimal;
    case ColumnType::kVarchar:
      return ValueKind::kText;
    case ColumnType::kBoolean:
      return ValueKind::kBool;
    case ColumnType::kDate:
      return ValueKind::kDate;
    case ColumnType::kTimestamp:
      return ValueKind::kTimestamp;
  }
  return ValueKind::kText;
}

std::string Normalize(const std::optional<std::string>& cell, ValueKind kind) {
  if (!cell.has_value()) return "NULL";
  const std::string& text = *cell;
  switch (kind) {
    case ValueKind::kInt:
    case ValueKind::kDecimal:
      return NormalizeDecimal(text);
    case ValueKind::kDouble: {
      double value = 0;
      if (ParseDouble(text, &value)) return fmt::format("{}", value);
      return text;
    }
    case ValueKind::kBool:
      if (text == "t" || text == "true" || text == "TRUE" || text == "1") return "true";
      if (text == "f" || text == "false" || text == "FALSE" || text == "0") return "false";
      return text;
    case ValueKind::kTimestamp:
      return NormalizeTimestamp(text);
    case ValueKind::kText:
      return "'" + text + "'";
    case ValueKind::kDate:
      return text;
  }
  return text;
}

nlohmann::json Comparison::ToJson() const {
  return {{"test_rows", test_rows},
          {"oracle_rows", oracle_rows},
          {"missing_in_test", missing_in_test},
          {"missing_in_oracle", missing_in_oracle},
          {"different_rows", different_rows}};
}

std::string Comparison::Summary() const {
  std::string text = fmt::format("{} rows in test, {} in oracle", test_rows, oracle_rows);
  if (!missing_in_test.empty() || !missing_in_oracle.empty()) {
    text += fmt::format("; {}{} missing in test, {}{} missing in oracle", missing_in_test.size(),
                        missing_in_test.size() >= 20 ? "+" : "", missing_in_oracle.size(),
                        missing_in_oracle.size() >= 20 ? "+" : "");
  }
  if (!different_rows.empty()) text += fmt::format("; {} rows differ", different_rows.size());
  return text;
}

Comparison CompareRows(const TextRows& test, const TextRows& oracle,
                       const std::vector<std::string>& column_names,
                       const std::vector<ValueKind>& kinds, const CompareOptions& options) {
  Comparison result;
  result.test_rows = static_cast<int64_t>(test.size());
  result.oracle_rows = static_cast<int64_t>(oracle.size());

  std::vector<Key> test_keys;
  std::vector<Key> oracle_keys;
  for (const TextRow& row : test) test_keys.push_back(SortKey(row, kinds));
  for (const TextRow& row : oracle) oracle_keys.push_back(SortKey(row, kinds));
  std::vector<size_t> test_order(test.size());
  std::vector<size_t> oracle_order(oracle.size());
  for (size_t i = 0; i < test_order.size(); ++i) test_order[i] = i;
  for (size_t i = 0; i < oracle_order.size(); ++i) oracle_order[i] = i;
  if (!options.ordered) {
    std::stable_sort(test_order.begin(), test_order.end(),
                     [&](size_t a, size_t b) { return test_keys[a] < test_keys[b]; });
    std::stable_sort(oracle_order.begin(), oracle_order.end(),
                     [&](size_t a, size_t b) { return oracle_keys[a] < oracle_keys[b]; });
  }

  if (test.size() == oracle.size()) {
    for (size_t i = 0; i < test_order.size(); ++i) {
      const TextRow& t = test[test_order[i]];
      const TextRow& o = oracle[oracle_order[i]];
      nlohmann::json diff = nlohmann::json::array();
      size_t columns = std::max(t.size(), o.size());
      for (size_t c = 0; c < columns; ++c) {
        ValueKind kind = c < kinds.size() ? kinds[c] : ValueKind::kText;
        std::optional<std::string> tv = c < t.size() ? t[c] : std::nullopt;
        std::optional<std::string> ov = c < o.size() ? o[c] : std::nullopt;
        if (t.size() != o.size() || !CellsEqual(tv, ov, kind, options.relative_tolerance)) {
          diff.push_back(
              {{"column", c < column_names.size() ? column_names[c] : fmt::format("#{}", c)},
               {"test", tv.has_value() ? nlohmann::json(*tv) : nlohmann::json()},
               {"oracle", ov.has_value() ? nlohmann::json(*ov) : nlohmann::json()}});
        }
      }
      if (!diff.empty()) {
        result.equal = false;
        if (result.different_rows.size() < options.max_items) {
          result.different_rows.push_back({{"position", i},
                                           {"test", Render(test_keys[test_order[i]])},
                                           {"oracle", Render(oracle_keys[oracle_order[i]])},
                                           {"diff", diff}});
        }
      }
    }
    if (result.equal) return result;
  }
  result.equal = false;

  // Multiset difference of the rows.
  std::map<Key, int64_t> balance;
  for (const Key& key : test_keys) ++balance[key];
  for (const Key& key : oracle_keys) --balance[key];
  for (const auto& [key, count] : balance) {
    for (int64_t i = 0; i < count && result.missing_in_oracle.size() < options.max_items; ++i) {
      result.missing_in_oracle.push_back(Render(key));
    }
    for (int64_t i = 0; i < -count && result.missing_in_test.size() < options.max_items; ++i) {
      result.missing_in_test.push_back(Render(key));
    }
  }
  return result;
}

}  // namespace shardlake::gemini
