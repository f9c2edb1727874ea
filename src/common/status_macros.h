// Early-return helpers for absl::Status / absl::StatusOr.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SHARDLAKE_CONCAT_INNER_(a, b) a##b
#define SHARDLAKE_CONCAT_(a, b) SHARDLAKE_CONCAT_INNER_(a, b)

// RETURN_IF_ERROR(expr): evaluates `expr` (a Status) and returns it if not OK.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::absl::Status shardlake_status_ = (expr);             \
    if (!shardlake_status_.ok()) return shardlake_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (a StatusOr<T>); on error returns
// its status, otherwise moves the value into `lhs` (which may be a declaration).
#define ASSIGN_OR_RETURN(lhs, expr) \
  SHARDLAKE_ASSIGN_OR_RETURN_IMPL_(SHARDLAKE_CONCAT_(shardlake_statusor_, __LINE__), lhs, expr)
#define SHARDLAKE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                     \
  if (!tmp.ok()) return std::move(tmp).status();         \
  lhs = std::move(tmp).value()
