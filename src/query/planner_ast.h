// Helpers for the distributed planner over DuckDB's serialized AST
// (json_serialize_sql / json_deserialize_sql, DuckDB 1.4 shape).
//
// An AST node is an nlohmann::json object. Expression nodes carry a "class"
// key (FUNCTION, COLUMN_REF, CONSTANT, ...); query nodes a "type" key
// (SELECT_NODE, SET_OPERATION_NODE); table references a "type" key (BASE_TABLE,
// JOIN, SUBQUERY, ...). A statement is {"node": ..., "named_param_map": []}.
//
// Thread-safety: the functions taking a Connection use it, so they follow its
// rules (one thread at a time); the pure functions are thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "duck/duck.h"
#include "nlohmann/json.hpp"

namespace shardlake::planner {

using Json = nlohmann::json;

// The statements of `sql` as serialized by DuckDB. Errors: InvalidArgument
// when DuckDB cannot parse it or it is not made of SELECT statements
// (DuckDB serializes only those).
absl::StatusOr<std::vector<Json>> SerializeStatements(duck::Connection& connection,
                                                      const std::string& sql);

// SQL text for one statement (a {"node": ...} object). Errors: Internal when
// DuckDB refuses the tree (a planner bug).
absl::StatusOr<std::string> DeserializeStatement(duck::Connection& connection,
                                                 const Json& statement);

// Wraps a query node as a statement.
Json StatementOf(Json node);

// The first select-list expression of `select_sql`, a SELECT that the planner
// writes itself (templates with placeholder column names).
absl::StatusOr<Json> ParseExpression(duck::Connection& connection, const std::string& select_sql);

// The first select-list expressions of "SELECT <e0>, <e1>, ...": many
// expressions the planner writes itself, parsed in one DuckDB call.
absl::StatusOr<std::vector<Json>> ParseExpressions(duck::Connection& connection,
                                                   const std::vector<std::string>& expressions);

// The names DuckDB gives the result columns of these select-list
// expressions, in one DuckDB call: the alias; else a column reference's own
// name; else the expression's SQL text (e.g. "count_star()",
// "sum(l_quantity)").
absl::StatusOr<std::vector<std::string>> ResultColumnNames(duck::Connection& connection,
                                                           const std::vector<Json>& expressions);

// A copy of `node` without query_location and alias fields, for comparing
// expressions by structure.
Json Normalized(const Json& node);
bool SameExpression(const Json& a, const Json& b);

bool IsExpression(const Json& node);
bool IsClass(const Json& node, const char* expression_class);

// Calls `visit` on every expression directly below `expression` (its
// operands, a function's FILTER and ORDER BY, CASE branches), not entering
// subqueries. `visit` may replace the child in place.
void ForEachChild(Json& expression, const std::function<void(Json& child)>& visit);

// Pre-order walk over `expression` and everything below it, not entering
// subqueries; `visit` returns false to skip a node's children.
void Walk(const Json& expression, const std::function<bool(const Json& node)>& visit);

// Column reference to `name` (unqualified).
Json ColumnRef(const std::string& name);
// Integer constant.
absl::StatusOr<Json> IntegerConstant(duck::Connection& connection, int64_t value);

// Replaces every unqualified column reference whose name is a key of
// `replacements` by a copy of the mapped expression (in place), keeping the
// replaced reference's alias.
void Substitute(Json& expression, const std::map<std::string, Json>& replacements);

// The value of an integer constant expression, if `node` is one.
std::optional<int64_t> IntegerValue(const Json& node);

}  // namespace shardlake::planner
