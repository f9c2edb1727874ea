#include "common/column_types.h"

#include <cctype>
#include <set>

namespace shardlake {
namespace {

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

StatDomain DomainOfType(const std::string& type, int64_t* resolution_ns) {
  std::string t = Upper(type);
  int64_t resolution = 0;
  StatDomain domain = StatDomain::kNone;
  if (t == "DATE") {
    domain = StatDomain::kTemporalNs;
    resolution = 86'400'000'000'000LL;
  } else if (t == "TIMESTAMP_NS") {
    domain = StatDomain::kTemporalNs;
  } else if (t == "TIMESTAMP_MS") {
    domain = StatDomain::kTemporalNs;
    resolution = 1'000'000;
  } else if (t == "TIMESTAMP_S") {
    domain = StatDomain::kTemporalNs;
    resolution = 1'000'000'000;
  } else if (t == "TIMESTAMP" || t == "TIMESTAMP WITH TIME ZONE" || t == "TIMESTAMPTZ" ||
             t == "DATETIME") {
    domain = StatDomain::kTemporalNs;
    resolution = 1'000;
  } else if (IsExactIntegerType(t) || t == "UBIGINT" || t == "FLOAT" || t == "DOUBLE" ||
             t == "REAL" || t.rfind("DECIMAL", 0) == 0) {
    domain = StatDomain::kNumeric;
  } else if (t == "VARCHAR") {
    domain = StatDomain::kString;
  }
  if (resolution_ns != nullptr) *resolution_ns = resolution;
  return domain;
}

bool IsExactIntegerType(const std::string& type) {
  static const std::set<std::string> kinds = {"TINYINT",  "SMALLINT",  "INTEGER", "BIGINT",
                                              "UTINYINT", "USMALLINT", "UINTEGER"};
  return kinds.count(Upper(type)) != 0;
}

bool IsTimestampType(const std::string& type) {
  std::string t = Upper(type);
  return t.rfind("TIMESTAMP", 0) == 0 || t == "DATETIME";
}

}  // namespace shardlake
