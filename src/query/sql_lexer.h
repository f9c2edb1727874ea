// A small SQL lexer: enough to split a script into statements and to read the
// head of the statements shardlake handles itself (CREATE TABLE, INSERT INTO,
// DROP TABLE). Everything after the head is left to DuckDB's own parser; SQL
// analysis for pruning uses DuckDB's AST (see ast.h), never this lexer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace shardlake {

struct SqlToken {
  enum class Kind { kWord, kQuotedIdentifier, kString, kNumber, kSymbol };
  Kind kind;
  std::string text;  // unquoted for identifiers and strings; upper-case for kWord
  std::string raw;   // as written
  size_t begin = 0;  // byte offsets in the statement
  size_t end = 0;
};

// Splits `sql` at top-level semicolons, respecting quotes ('..', "..",
// $tag$..$tag$) and comments (--, /* */). Empty statements are dropped and the
// trailing semicolon is not included. Errors: InvalidArgument for an
// unterminated quote or comment, naming the position.
absl::StatusOr<std::vector<std::string>> SplitSqlStatements(std::string_view sql);

// Tokens of one statement, skipping whitespace and comments; stops after
// `max_tokens` tokens.
absl::StatusOr<std::vector<SqlToken>> TokenizeSql(std::string_view sql, size_t max_tokens);

enum class StatementKind {
  kQuery,        // SELECT, WITH, FROM, VALUES, TABLE, (…), PIVOT
  kExplain,      // EXPLAIN <query>
  kCreateTable,  // CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name ...
  kInsert,       // INSERT [OR REPLACE|IGNORE] INTO name ...
  kDropTable,    // DROP TABLE [IF EXISTS] name
  kDescribe,     // DESCRIBE / SHOW / SUMMARIZE
  kUnsupported,  // UPDATE, DELETE, ALTER, COPY, ATTACH, ... (see the message)
  kSession,      // SET, RESET, PRAGMA: session settings, passed to DuckDB
  kCopyTo,       // COPY (query) TO ... / COPY table TO ...: export to a local file
};

// A (database, table) name as written; database is empty when unqualified.
struct TableName {
  std::string database;
  std::string table;
};

struct StatementHead {
  StatementKind kind = StatementKind::kQuery;
  std::string keyword;  // the first keyword, upper-case
  // For kCreateTable / kInsert / kDropTable:
  TableName target;
  size_t target_begin = 0;  // byte span of the target name in the statement
  size_t target_end = 0;
  bool or_replace = false;
  bool if_not_exists = false;  // CREATE ... IF NOT EXISTS
  bool if_exists = false;      // DROP ... IF EXISTS
  bool create_as_select = false;
  // For kInsert: the offset where the rows' source starts (VALUES, SELECT,
  // WITH, FROM, DEFAULT VALUES), after any column list and BY NAME/POSITION.
  size_t source_begin = 0;
  // For kCopyTo: the exported query ("SELECT * FROM t" for COPY t TO).
  std::string copy_query;
  // For kExplain: the offset where the explained statement starts.
  size_t explained_begin = 0;
};

// Reads the head of one statement. Errors: InvalidArgument for a malformed
// head (e.g. "INSERT INTO" without a name), naming what was expected.
absl::StatusOr<StatementHead> ParseStatementHead(std::string_view statement);

}  // namespace shardlake
