// The Redis catalog backend, compatible with GigAPI's key layout (see
// docs/catalog.md and ../shared/research/gigapi.md).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "catalog/index.h"
#include "common/uri.h"

namespace shardlake {

// Opens `redis://[user[:pass]@]host:port/DB` or `rediss://...` (TLS).
absl::StatusOr<std::unique_ptr<Index>> OpenRedisIndex(const Uri& uri, const IndexOptions& options);

}  // namespace shardlake
