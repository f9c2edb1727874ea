// How column values are compared in file statistics (IndexEntry min/max) and
// in pruning. Shared by the ingest path, which writes statistics, and the
// query path, which reads them.
#pragma once

#include <cstdint>
#include <string>

namespace shardlake {

enum class StatDomain {
  kNone,        // no statistics kept for this column
  kTemporalNs,  // DATE and TIMESTAMP kinds, as Unix ns (JSON integer)
  kNumeric,     // integers (JSON integer), FLOAT, DOUBLE, DECIMAL (JSON number)
  kString,      // VARCHAR, byte order (JSON string)
};

// The domain of a DuckDB type name, and for temporal types its resolution in
// ns (1000 for TIMESTAMP, a day for DATE, 0 for TIMESTAMP_NS), used to widen
// bounds so that rounding can never exclude a match.
StatDomain DomainOfType(const std::string& type, int64_t* resolution_ns = nullptr);

// True for TINYINT .. BIGINT and the unsigned kinds up to UINTEGER, whose
// statistics are kept as exact JSON integers.
bool IsExactIntegerType(const std::string& type);

// True for every TIMESTAMP kind (not DATE).
bool IsTimestampType(const std::string& type);

}  // namespace shardlake
