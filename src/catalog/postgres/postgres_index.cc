#include "catalog/postgres/postgres_index.h"

#include "fmt/format.h"

namespace shardlake {

absl::StatusOr<std::unique_ptr<Index>> OpenPostgresIndex(const Uri& uri, const IndexOptions&) {
  return absl::UnimplementedError(
      fmt::format("'{}': the PostgreSQL catalog backend is not built yet", uri.Redacted()));
}

}  // namespace shardlake
