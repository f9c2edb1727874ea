// Helpers shared by the catalog backends. Internal to src/catalog; not part of
// the catalog's public interface.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "catalog/index.h"
#include "catalog/index_entry.h"

namespace shardlake::catalog_internal {

// The object-key rules of storage/object_store.h (non-empty, no leading or
// trailing '/', no empty, "." or ".." segments), applied to an entry path.
// InvalidArgument names the problem and `what` (e.g. "added entry").
absl::Status ValidateEntryPath(std::string_view path, std::string_view what);

// CreateTable's argument rules: non-empty database and table, at least one
// column, non-empty distinct column names, time_column empty or a column.
absl::Status ValidateTableSchema(const TableSchema& schema);

// Checks a CompleteMerge request that needs no live state: the merged entry
// is valid, belongs to the plan's table and sits at plan.target.
absl::Status ValidateMergeCompletion(const std::string& describe, const MergePlan& plan,
                                     const IndexEntry& merged);

// `options.folder` without trailing '/' ("" means no folder filter).
std::string NormalizedFolder(const QueryOptions& options);

// Whether `entry` passes the time, folder and iteration filters of `options`.
// `folder` is NormalizedFolder(options).
bool MatchesQuery(const IndexEntry& entry, const QueryOptions& options, const std::string& folder);

}  // namespace shardlake::catalog_internal
