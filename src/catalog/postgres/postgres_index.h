// The PostgreSQL catalog backend (see docs/catalog.md).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "catalog/index.h"
#include "common/uri.h"

namespace shardlake {

// Opens `postgresql://user:pass@host:port/db` (also `postgres://`).
absl::StatusOr<std::unique_ptr<Index>> OpenPostgresIndex(const Uri& uri,
                                                         const IndexOptions& options);

}  // namespace shardlake
