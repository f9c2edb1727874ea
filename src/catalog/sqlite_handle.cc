#include "catalog/sqlite_handle.h"

#include <cstdio>
#include <cstdlib>

namespace shardlake::sqlite {
namespace {

int TraceStatement(unsigned type, void*, void* statement, void*) {
  if (type != SQLITE_TRACE_STMT) return 0;
  char* sql = sqlite3_expanded_sql(static_cast<sqlite3_stmt*>(statement));
  std::fprintf(stderr, "shardlake catalog sqlite: %s\n",
               sql != nullptr ? sql : sqlite3_sql(static_cast<sqlite3_stmt*>(statement)));
  sqlite3_free(sql);
  return 0;
}

}  // namespace

absl::Status StatusForCode(int rc, std::string message) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(message);
    case SQLITE_NOTADB:
      return absl::FailedPreconditionError(message);
    case SQLITE_CORRUPT:
      return absl::DataLossError(message);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

void BindText(sqlite3_stmt* stmt, int index, std::string_view text) {
  // SQLITE_STATIC: callers keep `text` alive until the statement is reset. A
  // null pointer would bind SQL NULL, so an empty view binds "".
  sqlite3_bind_text(stmt, index, text.data() != nullptr ? text.data() : "",
                    static_cast<int>(text.size()), SQLITE_STATIC);
}

std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
}

void TraceIfDebugging(sqlite3* db) {
  const char* value = std::getenv("SHARDLAKE_DEBUG_QUERIES");
  if (value == nullptr || std::string_view(value) == "" || std::string_view(value) == "0") return;
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, TraceStatement, nullptr);
}

}  // namespace shardlake::sqlite
