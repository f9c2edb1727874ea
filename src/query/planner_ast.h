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
#include <optional>
#include <string>
#include <utility>
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

// Replaces, anywhere under `value` (subqueries and derived tables included),
// every FROM-clause base table reference for which `replacement` returns a
// table reference, by that reference.
void ReplaceBaseTables(
    Json& value, const std::function<std::optional<Json>(const Json& base_table)>& replacement);

// Calls `visit` on every node under `value` that is an expression, a query
// node or a table reference, subqueries included (for checks that concern
// the whole statement, such as "calls no volatile function").
void WalkAll(const Json& value, const std::function<void(const Json& node)>& visit);

// The result columns of a SELECT statement ({"node": ...}), as DuckDB binds
// them: {name, DuckDB type name} per column, without running the query.
// Errors: InvalidArgument when DuckDB cannot bind it (the message is
// DuckDB's), Internal when the tree cannot be turned back into SQL.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DescribeStatement(
    duck::Connection& connection, const Json& statement);

// The value of an integer constant expression, if `node` is one.
std::optional<int64_t> IntegerValue(const Json& node);

}  // namespace shardlake::planner
