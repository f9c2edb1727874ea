#include "query/planner_ast.h"

#include <utility>

#include "common/sql_text.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace shardlake::planner {
namespace {

// Keys whose values are query nodes or statements, never walked as part of
// an expression.
bool IsQueryKey(const std::string& key) { return key == "subquery" || key == "node"; }

void ForEachChildImpl(Json& value, const std::function<void(Json& child)>& visit) {
  if (value.is_array()) {
    for (Json& element : value) {
      if (IsExpression(element)) {
        visit(element);
      } else {
        ForEachChildImpl(element, visit);
      }
    }
    return;
  }
  if (!value.is_object()) return;
  for (auto& [key, child] : value.items()) {
    if (IsQueryKey(key)) continue;
    if (IsExpression(child)) {
      visit(child);
    } else if (child.is_object() || child.is_array()) {
      ForEachChildImpl(child, visit);
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<Json>> SerializeStatements(duck::Connection& connection,
                                                      const std::string& sql) {
  auto text = duck::QueryScalar(connection,
                                fmt::format("SELECT json_serialize_sql({})", QuoteLiteral(sql)));
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("cannot parse the query: {}", std::string(text.status().message())));
  }
  if (!text->has_value()) return absl::InvalidArgumentError("cannot parse the query");
  Json parsed = Json::parse(**text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return absl::InternalError("json_serialize_sql returned malformed JSON");
  }
  if (parsed.value("error", false)) {
    return absl::InvalidArgumentError(
        fmt::format("cannot plan the query: {}", parsed.value("error_message", "parse error")));
  }
  if (!parsed.contains("statements") || !parsed["statements"].is_array()) {
    return absl::InternalError("json_serialize_sql returned no statements");
  }
  std::vector<Json> statements;
  for (Json& statement : parsed["statements"]) statements.push_back(std::move(statement));
  return statements;
}

Json StatementOf(Json node) {
  Json statement = Json::object();
  statement["node"] = std::move(node);
  statement["named_param_map"] = Json::array();
  return statement;
}

absl::StatusOr<std::string> DeserializeStatement(duck::Connection& connection,
                                                 const Json& statement) {
  Json wrapper = Json::object();
  wrapper["error"] = false;
  wrapper["statements"] = Json::array({statement});
  std::string text;
  try {
    text = wrapper.dump();
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("the query holds text that is not valid UTF-8: {}", e.what()));
  }
  auto sql = duck::QueryScalar(connection,
                               fmt::format("SELECT json_deserialize_sql({})", QuoteLiteral(text)));
  if (!sql.ok()) {
    return absl::InternalError(fmt::format("DuckDB refused a planned query tree: {}",
                                           std::string(sql.status().message())));
  }
  if (!sql->has_value()) return absl::InternalError("json_deserialize_sql returned NULL");
  return **sql;
}

absl::StatusOr<Json> ParseExpression(duck::Connection& connection, const std::string& select_sql) {
  ASSIGN_OR_RETURN(std::vector<Json> statements, SerializeStatements(connection, select_sql));
  if (statements.size() != 1) return absl::InternalError("template is not one statement");
  Json& node = statements[0]["node"];
  if (!node.contains("select_list") || node["select_list"].empty()) {
    return absl::InternalError("template has no select list");
  }
  return node["select_list"][0];
}

absl::StatusOr<std::vector<Json>> ParseExpressions(duck::Connection& connection,
                                                   const std::vector<std::string>& expressions) {
  if (expressions.empty()) return std::vector<Json>();
  std::string sql = "SELECT ";
  for (size_t i = 0; i < expressions.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += expressions[i];
  }
  ASSIGN_OR_RETURN(std::vector<Json> statements, SerializeStatements(connection, sql));
  if (statements.size() != 1) return absl::InternalError("template is not one statement");
  Json& list = statements[0]["node"]["select_list"];
  if (!list.is_array() || list.size() != expressions.size()) {
    return absl::InternalError(fmt::format("template parsed into a different list: {}", sql));
  }
  std::vector<Json> parsed;
  for (Json& expression : list) parsed.push_back(std::move(expression));
  return parsed;
}

absl::StatusOr<std::vector<std::string>> ResultColumnNames(duck::Connection& connection,
                                                           const std::vector<Json>& expressions) {
  std::vector<std::string> names(expressions.size());
  std::vector<std::string> calls;
  std::vector<size_t> pending;
  Json node = nullptr;
  for (size_t i = 0; i < expressions.size(); ++i) {
    const Json& expression = expressions[i];
    std::string alias = expression.value("alias", "");
    if (!alias.empty()) {
      names[i] = alias;
    } else if (IsClass(expression, "COLUMN_REF") && !expression["column_names"].empty()) {
      names[i] = expression["column_names"].back().get<std::string>();
    } else {
      if (node.is_null()) {
        ASSIGN_OR_RETURN(std::vector<Json> statements, SerializeStatements(connection, "SELECT 1"));
        node = statements[0]["node"];
      }
      node["select_list"] = Json::array({expression});
      Json wrapper = Json::object();
      wrapper["error"] = false;
      wrapper["statements"] = Json::array({StatementOf(node)});
      std::string text;
      try {
        text = wrapper.dump();
      } catch (const Json::exception& e) {
        return absl::InvalidArgumentError(
            fmt::format("the query holds text that is not valid UTF-8: {}", e.what()));
      }
      calls.push_back(fmt::format("json_deserialize_sql({})", QuoteLiteral(text)));
      pending.push_back(i);
    }
  }
  if (calls.empty()) return names;
  // One row, one column per expression: "SELECT <expression>" each, whose
  // text after "SELECT " is the expression's ToString(), DuckDB's name for it.
  auto result = connection.Query(fmt::format("SELECT {}", fmt::join(calls, ", ")));
  if (!result.ok()) {
    return absl::InternalError(fmt::format("DuckDB refused a select-list expression: {}",
                                           std::string(result.status().message())));
  }
  ASSIGN_OR_RETURN(auto rows, (*result)->FetchAllAsStrings());
  if (rows.size() != 1 || rows[0].size() != calls.size()) {
    return absl::InternalError("json_deserialize_sql returned an unexpected shape");
  }
  constexpr std::string_view kPrefix = "SELECT ";
  for (size_t j = 0; j < pending.size(); ++j) {
    const std::optional<std::string>& sql = rows[0][j];
    if (!sql || sql->rfind(kPrefix, 0) != 0) {
      return absl::InternalError(
          fmt::format("unexpected deserialized text: {}", sql.value_or("NULL")));
    }
    names[pending[j]] = sql->substr(kPrefix.size());
  }
  return names;
}

Json Normalized(const Json& node) {
  if (node.is_object()) {
    Json out = Json::object();
    for (const auto& [key, value] : node.items()) {
      if (key == "query_location" || key == "alias") continue;
      out[key] = Normalized(value);
    }
    return out;
  }
  if (node.is_array()) {
    Json out = Json::array();
    for (const Json& value : node) out.push_back(Normalized(value));
    return out;
  }
  return node;
}

bool SameExpression(const Json& a, const Json& b) { return Normalized(a) == Normalized(b); }

bool IsExpression(const Json& node) {
  return node.is_object() && node.contains("class") && node["class"].is_string();
}

bool IsClass(const Json& node, const char* expression_class) {
  return IsExpression(node) && node["class"].get_ref<const std::string&>() == expression_class;
}

void ForEachChild(Json& expression, const std::function<void(Json& child)>& visit) {
  if (IsClass(expression, "SUBQUERY")) {
    // The subquery's operand (x in "x IN (SELECT ...)") is a child; the
    // subquery itself is not.
    if (IsExpression(expression["child"])) visit(expression["child"]);
    return;
  }
  for (auto& [key, child] : expression.items()) {
    if (IsQueryKey(key)) continue;
    if (IsExpression(child)) {
      visit(child);
    } else if (child.is_object() || child.is_array()) {
      ForEachChildImpl(child, visit);
    }
  }
}

void Walk(const Json& expression, const std::function<bool(const Json& node)>& visit) {
  if (!visit(expression)) return;
  // ForEachChild only hands out children; this visitor never modifies them.
  Json& mutable_expression = const_cast<Json&>(expression);
  ForEachChild(mutable_expression, [&](Json& child) { Walk(child, visit); });
}

Json ColumnRef(const std::string& name) {
  Json ref = Json::object();
  ref["class"] = "COLUMN_REF";
  ref["type"] = "COLUMN_REF";
  ref["alias"] = "";
  ref["query_location"] = 0;
  ref["column_names"] = Json::array({name});
  return ref;
}

absl::StatusOr<Json> IntegerConstant(duck::Connection& connection, int64_t value) {
  return ParseExpression(connection, fmt::format("SELECT {}", value));
}

void Substitute(Json& expression, const std::map<std::string, Json>& replacements) {
  if (IsClass(expression, "COLUMN_REF") && expression["column_names"].size() == 1) {
    auto it = replacements.find(expression["column_names"][0].get<std::string>());
    if (it != replacements.end()) {
      std::string alias = expression.value("alias", "");
      expression = it->second;
      if (!alias.empty()) expression["alias"] = alias;  // the alias names the position
      return;
    }
  }
  ForEachChild(expression, [&](Json& child) { Substitute(child, replacements); });
}

void ReplaceBaseTables(
    Json& value, const std::function<std::optional<Json>(const Json& base_table)>& replacement) {
  if (value.is_array()) {
    for (Json& element : value) ReplaceBaseTables(element, replacement);
    return;
  }
  if (!value.is_object()) return;
  if (value.contains("type") && value["type"] == "BASE_TABLE" && value.contains("table_name")) {
    if (std::optional<Json> replaced = replacement(value)) value = std::move(*replaced);
    return;
  }
  for (auto& [key, child] : value.items()) {
    if (child.is_object() || child.is_array()) ReplaceBaseTables(child, replacement);
  }
}

void WalkAll(const Json& value, const std::function<void(const Json& node)>& visit) {
  if (value.is_array()) {
    for (const Json& element : value) WalkAll(element, visit);
    return;
  }
  if (!value.is_object()) return;
  if (value.contains("class") || value.contains("type")) visit(value);
  for (const auto& [key, child] : value.items()) {
    if (child.is_object() || child.is_array()) WalkAll(child, visit);
  }
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DescribeStatement(
    duck::Connection& connection, const Json& statement) {
  ASSIGN_OR_RETURN(std::string sql, DeserializeStatement(connection, statement));
  auto result =
      connection.Query(fmt::format("SELECT column_name, column_type FROM (DESCRIBE {})", sql));
  if (!result.ok()) {
    return absl::InvalidArgumentError(std::string(result.status().message()));
  }
  ASSIGN_OR_RETURN(auto rows, (*result)->FetchAllAsStrings());
  std::vector<std::pair<std::string, std::string>> columns;
  for (const auto& row : rows) columns.emplace_back(row[0].value_or(""), row[1].value_or(""));
  return columns;
}

std::optional<int64_t> IntegerValue(const Json& node) {
  if (!IsClass(node, "CONSTANT")) return std::nullopt;
  const Json& value = node["value"];
  if (!value.is_object() || value.value("is_null", true)) return std::nullopt;
  const Json& type = value["type"];
  if (!type.is_object()) return std::nullopt;
  std::string id = type.value("id", "");
  if (id != "INTEGER" && id != "BIGINT" && id != "SMALLINT" && id != "TINYINT") return std::nullopt;
  if (!value["value"].is_number_integer()) return std::nullopt;
  return value["value"].get<int64_t>();
}

}  // namespace shardlake::planner
