#include "catalog/redis/redis_index.h"

#include "fmt/format.h"

namespace shardlake {

absl::StatusOr<std::unique_ptr<Index>> OpenRedisIndex(const Uri& uri, const IndexOptions&) {
  return absl::UnimplementedError(
      fmt::format("'{}': the Redis catalog backend is not built yet", uri.Redacted()));
}

}  // namespace shardlake
