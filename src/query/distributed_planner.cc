#include "query/distributed_planner.h"

#include <map>
#include <set>
#include <utility>

#include "common/sql_text.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "query/planner_ast.h"
#include "query/planner_sources.h"

namespace shardlake {
namespace {

using planner::ColumnRef;
using planner::ContainsAggregate;
using planner::IntegerValue;
using planner::IsClass;
using planner::Json;
using planner::LowerCase;
using planner::SameExpression;

// "Cannot distribute" travels as FailedPrecondition inside this file and
// becomes DistributedPlan::reason at the top.
absl::Status CannotDistribute(std::string reason) {
  return absl::FailedPreconditionError(std::move(reason));
}

const std::set<std::string>& VarianceFunctions() {
  static const std::set<std::string> names = {"stddev",   "stddev_samp", "stddev_pop",
                                              "variance", "var_samp",    "var_pop"};
  return names;
}

// Aggregates whose DISTINCT form depends only on the set of distinct argument
// values, so shipping the distinct values and aggregating them again is exact.
const std::set<std::string>& DistinctSafeFunctions() {
  static const std::set<std::string> names = {
      "count",       "sum",        "avg",      "mean",     "min",     "max",      "stddev",
      "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop", "bool_and", "bool_or"};
  return names;
}

std::string Quoted(const std::string& name) { return QuoteIdentifier(name); }

bool HasSubquery(const Json& expression) {
  bool found = false;
  planner::Walk(expression, [&](const Json& node) {
    if (IsClass(node, "SUBQUERY")) found = true;
    return !found;
  });
  return found;
}

const Json* FindModifier(const Json& node, const char* type) {
  for (const Json& modifier : node["modifiers"]) {
    if (modifier.value("type", "") == type) return &modifier;
  }
  return nullptr;
}

// Splits the aggregates of one SELECT into worker partials and coordinator
// merges, and rewrites the SELECT's expressions over the partials table.
class AggregateSplitter {
 public:
  AggregateSplitter(duck::Connection& connection, const std::set<std::string>& aggregates)
      : connection_(connection), aggregates_(aggregates) {}

  std::vector<Json> group_expressions;  // resolved, without aliases
  std::vector<Json> distinct_expressions;
  std::vector<std::pair<std::string, Json>> partials;  // worker column, expression
  std::vector<std::string> window_columns;             // SQL over our own names only
  std::vector<std::string> notes;
  // Result types of the query's avg() calls, keyed by the call's normalized
  // tree (see AverageKey); when they are not known, why.
  std::map<std::string, std::string> average_types;
  std::string average_types_unknown;

  static std::string AverageKey(const Json& call) { return planner::Normalized(call).dump(); }

  static std::string KeyName(size_t i) { return fmt::format("__k{}", i); }

  // Replaces the merge placeholders in `expressions` by the parsed merges.
  absl::Status ResolveMerges(const std::vector<Json*>& expressions) {
    ASSIGN_OR_RETURN(std::vector<Json> parsed, planner::ParseExpressions(connection_, merge_sql_));
    std::map<std::string, Json> replacements;
    for (size_t i = 0; i < parsed.size(); ++i) {
      replacements[fmt::format("__shardlake_merge_{}", i)] = std::move(parsed[i]);
    }
    for (Json* expression : expressions) {
      if (!expression->is_null()) planner::Substitute(*expression, replacements);
    }
    return absl::OkStatus();
  }
  static std::string DistinctName(size_t i) { return fmt::format("__d{}", i); }

  // The coordinator's form of `expression`. `aliases` (may be null) maps
  // select-list aliases to their expressions, for HAVING.
  absl::StatusOr<Json> Rewrite(const Json& expression, const std::map<std::string, Json>* aliases) {
    for (size_t i = 0; i < group_expressions.size(); ++i) {
      if (SameExpression(expression, group_expressions[i])) return ColumnRef(KeyName(i));
    }
    if (IsClass(expression, "FUNCTION") &&
        aggregates_.count(LowerCase(expression.value("function_name", ""))) > 0) {
      return Merge(expression);
    }
    if (IsClass(expression, "WINDOW")) return CannotDistribute("window function");
    if (IsClass(expression, "SUBQUERY")) {
      return CannotDistribute(
          "subquery in the SELECT list, HAVING or ORDER BY of an aggregate query");
    }
    if (IsClass(expression, "STAR")) return CannotDistribute("* in an aggregate query");
    if (IsClass(expression, "COLUMN_REF")) {
      const Json& names = expression["column_names"];
      if (aliases != nullptr && names.size() == 1) {
        auto it = aliases->find(names[0].get<std::string>());
        if (it != aliases->end()) return Rewrite(it->second, nullptr);
      }
      return CannotDistribute(fmt::format("column {} is neither grouped nor inside an aggregate",
                                          names.back().get<std::string>()));
    }
    if (IsClass(expression, "LAMBDA") || IsClass(expression, "PARAMETER")) {
      return CannotDistribute("lambda or parameter in an aggregate query");
    }
    Json copy = expression;
    absl::Status status;
    planner::ForEachChild(copy, [&](Json& child) {
      if (!status.ok()) return;
      auto rewritten = Rewrite(child, aliases);
      if (!rewritten.ok()) {
        status = rewritten.status();
        return;
      }
      child = std::move(*rewritten);
    });
    RETURN_IF_ERROR(status);
    return copy;
  }

 private:
  absl::StatusOr<Json> ParseNow(const std::string& sql) {
    return planner::ParseExpression(connection_, "SELECT " + sql);
  }

  // A placeholder for the merge expression `sql` (our own column names
  // only); all of them are parsed at once by ResolveMerges.
  absl::StatusOr<Json> Expression(const std::string& sql) {
    merge_sql_.push_back(sql);
    return ColumnRef(fmt::format("__shardlake_merge_{}", merge_sql_.size() - 1));
  }

  std::string AddPartial(Json expression) {
    expression["alias"] = "";
    std::string key = planner::Normalized(expression).dump();
    auto it = partial_by_key_.find(key);
    if (it != partial_by_key_.end()) return it->second;
    std::string name = fmt::format("__a{}", partials.size());
    partials.emplace_back(name, std::move(expression));
    partial_by_key_[key] = name;
    return name;
  }

  std::string AddDistinct(Json expression) {
    expression["alias"] = "";
    for (size_t i = 0; i < distinct_expressions.size(); ++i) {
      if (SameExpression(distinct_expressions[i], expression)) return DistinctName(i);
    }
    distinct_expressions.push_back(std::move(expression));
    return DistinctName(distinct_expressions.size() - 1);
  }

  // A copy of `call` under another aggregate name (keeps its argument and FILTER).
  static Json Renamed(const Json& call, const char* name) {
    Json copy = call;
    copy["function_name"] = name;
    return copy;
  }

  std::string PartitionByKeys() const {
    std::vector<std::string> keys;
    for (size_t i = 0; i < group_expressions.size(); ++i) keys.push_back(Quoted(KeyName(i)));
    return keys.empty() ? "" : fmt::format("PARTITION BY {}", fmt::join(keys, ", "));
  }

  void Note(const std::string& function, const std::string& how) {
    if (noted_.insert(function).second) notes.push_back(fmt::format("{}: {}", function, how));
  }

  absl::StatusOr<Json> Merge(const Json& call) {
    std::string name = LowerCase(call.value("function_name", ""));
    const Json& children = call["children"];
    if (call.value("export_state", false)) return CannotDistribute("EXPORT_STATE aggregate");
    if (call.contains("order_bys") && !call["order_bys"]["orders"].empty()) {
      return CannotDistribute(fmt::format("ORDER BY inside aggregate {}()", name));
    }
    for (const Json& child : children) {
      if (ContainsAggregate(child, aggregates_)) return CannotDistribute("nested aggregate");
      // A subquery in an argument is evaluated per row on the worker; the
      // source analysis has proven it reads what it needs in every slice.
    }
    if (call.value("distinct", false)) {
      if (DistinctSafeFunctions().count(name) == 0 || children.size() != 1) {
        return CannotDistribute(fmt::format("{}(DISTINCT ...) cannot be merged exactly", name));
      }
      Json argument = children[0];
      if (!call["filter"].is_null()) {
        // agg(DISTINCT x) FILTER (WHERE c) == agg(DISTINCT CASE WHEN c THEN x END):
        // every such aggregate ignores NULL inputs.
        ASSIGN_OR_RETURN(Json case_expression,
                         ParseNow("CASE WHEN __shardlake_filter THEN __shardlake_value END"));
        planner::Substitute(case_expression, {{"__shardlake_filter", call["filter"]},
                                              {"__shardlake_value", argument}});
        argument = std::move(case_expression);
      }
      std::string column = AddDistinct(std::move(argument));
      Json merged = call;
      merged["children"] = Json::array({ColumnRef(column)});
      merged["filter"] = nullptr;
      merged["alias"] = "";
      Note(name + "(DISTINCT)",
           "workers group by the argument too and ship its distinct values; the coordinator "
           "aggregates the distinct values");
      return merged;
    }
    if (children.size() > 1) {
      return CannotDistribute(
          fmt::format("aggregate {}() with {} arguments cannot be split", name, children.size()));
    }
    for (const Json& child : children) {
      bool star = false;
      planner::Walk(child, [&](const Json& node) {
        star = star || IsClass(node, "STAR");
        return !star;
      });
      // COLUMNS(...) expands into one aggregate per column: one partial
      // column would not hold them.
      if (star) return CannotDistribute(fmt::format("COLUMNS(...) or * inside {}()", name));
    }
    if (name == "count_star" || name == "count") {
      std::string partial = AddPartial(call);
      Note(name, "count per worker, summed (cast back to BIGINT)");
      return Expression(fmt::format("CAST(COALESCE(SUM({}), 0) AS BIGINT)", Quoted(partial)));
    }

    if (children.empty()) return CannotDistribute(fmt::format("aggregate {}()", name));
    // Associative and commutative, NULL-ignoring, NULL on no input: the
    // same aggregate merges the partials.
    static const std::map<std::string, std::string> kSelfMerging = {
        {"sum", "SUM"},
        {"min", "MIN"},
        {"max", "MAX"},
        {"bool_and", "BOOL_AND"},
        {"bool_or", "BOOL_OR"},
        {"bit_and", "BIT_AND"},
        {"bit_or", "BIT_OR"},
        {"bit_xor", "BIT_XOR"},
        {"product", "PRODUCT"},
        // count_if sums (a HUGEINT, NULL on no input)
        {"count_if", "SUM"},
        {"countif", "SUM"}};
    if (auto self = kSelfMerging.find(name); self != kSelfMerging.end()) {
      std::string partial = AddPartial(call);
      const std::string& merge = self->second;
      Note(name, fmt::format("{} per worker, {} of the partials", name, merge));
      return Expression(fmt::format("{}({})", merge, Quoted(partial)));
    }
    if (name == "avg" || name == "mean") return MergeAverage(call, name);
    if (VarianceFunctions().count(name) > 0) {
      std::string n = Quoted(AddPartial(Renamed(call, "count")));
      std::string mean = Quoted(AddPartial(Renamed(call, "avg")));
      std::string variance = Quoted(AddPartial(Renamed(call, "var_pop")));
      // Chan et al.'s merge of (count, mean, M2) triples: M2 = sum(M2_i) +
      // sum(n_i * (mean_i - mean)^2), with the global mean from a window over
      // the group's partial rows. Stable for large offsets, unlike a sum of
      // squares.
      std::string global_mean = fmt::format("__g{}", window_columns.size());
      std::string partition = PartitionByKeys();
      window_columns.push_back(
          fmt::format("SUM({0} * {1}) OVER ({2}) / NULLIF(SUM({0}) OVER ({2}), 0) AS {3}", n, mean,
                      partition, Quoted(global_mean)));
      std::string m2 = fmt::format("(SUM({2} * {0}) + SUM({0} * ({1} - {3}) * ({1} - {3})))", n,
                                   mean, variance, Quoted(global_mean));
      bool population = name == "stddev_pop" || name == "var_pop";
      bool root = name.rfind("stddev", 0) == 0;
      std::string value =
          population ? fmt::format("CASE WHEN SUM({0}) > 0 THEN {1} / SUM({0}) END", n, m2)
                     : fmt::format("CASE WHEN SUM({0}) > 1 THEN {1} / (SUM({0}) - 1) END", n, m2);
      Note(name,
           "count, mean and M2 per worker, merged with Chan's parallel formula on the "
           "coordinator");
      return Expression(root ? fmt::format("sqrt({})", value) : value);
    }
    return CannotDistribute(
        fmt::format("aggregate {}() cannot be split into partial aggregates", name));
  }

  // avg(x) returns DOUBLE for numbers: the totals of sum(x) and count(x)
  // divided. For TIMESTAMP, TIMESTAMPTZ and TIME (DATE and the other
  // timestamp units are cast to TIMESTAMP) DuckDB sums the microseconds in a
  // HUGEINT, divides truncating toward zero, and rounds up when the
  // remainder exceeds half the count (DiscreteAverageOperation); the
  // coordinator does the same with the totals. INTERVAL and TIMETZ averages
  // have no such split and fall back.
  absl::StatusOr<Json> MergeAverage(const Json& call, const std::string& name) {
    auto type = average_types.find(AverageKey(call));
    if (type == average_types.end()) {
      return CannotDistribute(
          fmt::format("{}() is split by its argument's type, which is unknown here ({})", name,
                      average_types_unknown.empty() ? "not probed" : average_types_unknown));
    }
    std::string count = AddPartial(Renamed(call, "count"));
    if (type->second == "DOUBLE") {
      std::string sum = AddPartial(Renamed(call, "sum"));
      Note(name, "sum and count per worker; the coordinator divides the totals");
      return Expression(
          fmt::format("CAST(SUM({}) AS DOUBLE) / NULLIF(SUM({}), 0)", Quoted(sum), Quoted(count)));
    }
    std::string cast_type;
    std::string from_micros;
    if (type->second == "TIMESTAMP") {
      cast_type = "TIMESTAMP";
      from_micros = "make_timestamp({})";
    } else if (type->second == "TIMESTAMP WITH TIME ZONE") {
      cast_type = "TIMESTAMPTZ";
      from_micros = "make_timestamptz({})";
    } else if (type->second == "TIME") {
      cast_type = "TIME";
      from_micros = "CAST(make_timestamp({}) AS TIME)";
    } else {
      return CannotDistribute(fmt::format(
          "{}() returning {} cannot be split into partial aggregates", name, type->second));
    }
    ASSIGN_OR_RETURN(Json micros,
                     ParseNow(fmt::format("epoch_us(CAST(__shardlake_value AS {}))", cast_type)));
    planner::Substitute(micros, {{"__shardlake_value", call["children"][0]}});
    Json sum_call = Renamed(call, "sum");
    sum_call["children"] = Json::array({std::move(micros)});
    std::string total = Quoted(AddPartial(std::move(sum_call)));
    std::string n = fmt::format("SUM({})", Quoted(count));
    std::string s = fmt::format("SUM({})", total);
    std::string rounded = fmt::format(
        "CAST({0} // {1} + CASE WHEN {0} % {1} > {1} // 2 THEN 1 ELSE 0 END AS BIGINT)", s, n);
    Note(name, fmt::format("{} average: microsecond sum and count per worker; the coordinator "
                           "divides and rounds as DuckDB does",
                           type->second));
    return Expression(fmt::format("CASE WHEN {} > 0 THEN {} END", n,
                                  fmt::format(fmt::runtime(from_micros), rounded)));
  }

  duck::Connection& connection_;
  const std::set<std::string>& aggregates_;
  std::map<std::string, std::string> partial_by_key_;
  std::set<std::string> noted_;
  std::vector<std::string> merge_sql_;
};

// Learns the result types of queries over the lake tables without reading
// them: every table reference becomes an empty stand-in with the table's
// column names and types (TableLayout::column_types), and DuckDB binds the
// query (DESCRIBE).
class TypeProbe {
 public:
  TypeProbe(duck::Connection& connection, const TableLayoutLookup& lookup)
      : connection_(connection), lookup_(lookup) {}

  using Columns = std::vector<std::pair<std::string, std::string>>;

  // The result columns of `sql` (a coordinator query) when kPartialsTable
  // has `partials`; errors as for Describe. One DuckDB call: the stand-in is
  // a common table expression named like the table.
  static absl::StatusOr<Columns> DescribeOverPartials(duck::Connection& connection,
                                                      const std::string& sql,
                                                      const Columns& partials) {
    ASSIGN_OR_RETURN(std::string columns, EmptyRowSql(kPartialsTable, partials));
    auto result = connection.Query(
        fmt::format("SELECT column_name, column_type FROM (DESCRIBE WITH {} AS (SELECT {} LIMIT "
                    "0) {})",
                    Quoted(kPartialsTable), columns, sql));
    if (!result.ok()) return absl::InvalidArgumentError(std::string(result.status().message()));
    ASSIGN_OR_RETURN(auto rows, (*result)->FetchAllAsStrings());
    Columns described;
    for (const auto& row : rows) described.emplace_back(row[0].value_or(""), row[1].value_or(""));
    return described;
  }

  // The result columns of `statement`. Errors: FailedPrecondition when a
  // table's column types are unknown (the message names it); InvalidArgument
  // with DuckDB's message when the query does not bind.
  absl::StatusOr<Columns> Describe(const Json& statement) {
    Json copy = statement;
    absl::Status status;
    planner::ReplaceBaseTables(copy, [&](const Json& table) -> std::optional<Json> {
      auto stand_in = StandIn(table);
      if (!stand_in.ok()) {
        if (status.ok()) status = stand_in.status();
        return std::nullopt;
      }
      return std::move(*stand_in);
    });
    RETURN_IF_ERROR(status);
    return planner::DescribeStatement(connection_, copy);
  }

 private:
  static std::string WrittenName(const Json& table) {
    std::string written = table.value("table_name", "");
    std::string schema = table.value("schema_name", "");
    std::string catalog = table.value("catalog_name", "");
    if (!schema.empty()) written = schema + "." + written;
    if (!catalog.empty()) written = catalog + "." + written;
    return written;
  }

  // "CAST(NULL AS type) AS name, ..." for `columns` of `table`.
  static absl::StatusOr<std::string> EmptyRowSql(const std::string& table, const Columns& columns) {
    std::vector<std::string> items;
    for (const auto& [name, type] : columns) {
      // Type names come from the catalog or DESCRIBE (DuckDB's own
      // spelling); refuse anything that could end the expression.
      if (type.empty() || type.find_first_of(";'") != std::string::npos ||
          type.find("--") != std::string::npos || type.find("/*") != std::string::npos) {
        return absl::FailedPreconditionError(
            fmt::format("column {} of {} has an unusable type name", name, table));
      }
      items.push_back(fmt::format("CAST(NULL AS {}) AS {}", type, Quoted(name)));
    }
    if (items.empty()) {
      return absl::FailedPreconditionError(fmt::format("{} has no known columns", table));
    }
    return fmt::format("{}", fmt::join(items, ", "));
  }

  // A derived table standing in for the base table reference `table`.
  absl::StatusOr<Json> StandIn(const Json& table) {
    std::string written = WrittenName(table);
    auto it = stand_ins_.find(written);
    if (it == stand_ins_.end()) {
      std::optional<TableLayout> layout = lookup_(written);
      if (!layout || layout->column_types.empty() ||
          layout->column_types.size() != layout->columns.size()) {
        return absl::FailedPreconditionError(
            fmt::format("the column types of {} are unknown", written));
      }
      Columns columns;
      for (size_t i = 0; i < layout->columns.size(); ++i) {
        columns.emplace_back(layout->columns[i], layout->column_types[i]);
      }
      ASSIGN_OR_RETURN(std::string items, EmptyRowSql(written, columns));
      ASSIGN_OR_RETURN(
          std::vector<Json> parsed,
          planner::SerializeStatements(
              connection_, fmt::format("SELECT * FROM (SELECT {} LIMIT 0) AS t", items)));
      it = stand_ins_.emplace(written, parsed[0]["node"]["from_table"]).first;
    }
    Json stand_in = it->second;
    std::string alias = table.value("alias", "");
    stand_in["alias"] = alias.empty() ? table.value("table_name", "") : alias;
    stand_in["column_name_alias"] = table["column_name_alias"];
    return stand_in;
  }

  duck::Connection& connection_;
  const TableLayoutLookup& lookup_;
  std::map<std::string, Json> stand_ins_;
};

struct LimitInfo {
  bool present = false;
  bool pushable = false;  // constant LIMIT and OFFSET
  int64_t limit = 0;
  int64_t offset = 0;
};

LimitInfo ReadLimit(const Json& node) {
  LimitInfo info;
  if (FindModifier(node, "LIMIT_PERCENT_MODIFIER") != nullptr) {
    info.present = true;
    return info;
  }
  const Json* modifier = FindModifier(node, "LIMIT_MODIFIER");
  if (modifier == nullptr) return info;
  info.present = true;
  auto limit = IntegerValue((*modifier)["limit"]);
  std::optional<int64_t> offset = int64_t{0};
  if (!(*modifier)["offset"].is_null()) offset = IntegerValue((*modifier)["offset"]);
  if (limit && offset && *limit >= 0 && *offset >= 0 && *limit < (int64_t{1} << 40) &&
      *offset < (int64_t{1} << 40)) {
    info.pushable = true;
    info.limit = *limit;
    info.offset = *offset;
  }
  return info;
}

// Whether `order` (an ORDER_MODIFIER of the aggregate query `node`, whose
// select-list items are `items`, named `names`) names every GROUP BY key, so
// that it orders the groups totally and LIMIT picks the same groups on any
// node. Positions and select-list names are resolved to the items they
// name; expressions are compared by structure. Only informs EXPLAIN: top N
// per worker is exact either way, up to the choice among tied rows.
bool OrdersGroupsTotally(const Json& node, const Json& order, const std::vector<Json>& items,
                         const std::vector<std::string>& names) {
  auto resolve = [&](const Json& expression, bool names_count) -> Json {
    if (auto position = IntegerValue(expression)) {
      if (*position >= 1 && *position <= static_cast<int64_t>(items.size())) {
        return items[*position - 1];
      }
    }
    if (names_count && IsClass(expression, "COLUMN_REF") &&
        expression["column_names"].size() == 1) {
      const std::string name = expression["column_names"][0].get<std::string>();
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) return items[i];
      }
    }
    return expression;
  };
  std::vector<Json> order_keys;
  for (const Json& entry : order["orders"]) {
    order_keys.push_back(resolve(entry["expression"], /*names_count=*/true));
  }
  for (const Json& group : node["group_expressions"]) {
    Json key = resolve(group, /*names_count=*/false);
    bool ordered = false;
    for (const Json& order_key : order_keys) ordered = ordered || SameExpression(key, order_key);
    if (!ordered) return false;
  }
  return true;
}

}  // namespace

namespace {

class QueryPlanner {
 public:
  QueryPlanner(duck::Connection& connection, const std::set<std::string>& aggregates,
               const Json& node, const planner::SourceAnalysis& sources, TypeProbe& types,
               DistributedPlan& plan)
      : connection_(connection),
        aggregates_(aggregates),
        node_(node),
        sources_(sources),
        types_(types),
        plan_(plan) {}

  // The statement plan_.worker_sql was written from, once planned.
  Json worker_statement;

  absl::Status PlanAggregate() {
    std::string handling = node_.value("aggregate_handling", "");
    Json groups = node_["group_expressions"];
    if (handling == "FORCE_AGGREGATES") {
      // GROUP BY ALL: every select-list item without an aggregate.
      if (!groups.empty()) return CannotDistribute("GROUP BY ALL with other groups");
      for (const Json& item : node_["select_list"]) {
        if (IsClass(item, "STAR")) return CannotDistribute("* in an aggregate query");
        if (!ContainsAggregate(item, aggregates_)) groups.push_back(item);
      }
    } else if (handling != "STANDARD_HANDLING") {
      return CannotDistribute(fmt::format("aggregate handling {}", handling));
    }
    const Json& sets = node_["group_sets"];
    if (sets.size() > 1 ||
        (sets.size() == 1 && sets[0].size() != node_["group_expressions"].size())) {
      return CannotDistribute("GROUPING SETS / ROLLUP / CUBE");
    }
    const Json* distinct_on = FindModifier(node_, "DISTINCT_MODIFIER");
    if (distinct_on != nullptr && !(*distinct_on)["distinct_on_targets"].empty()) {
      return CannotDistribute("DISTINCT ON");
    }
    const Json& select_list = node_["select_list"];
    std::map<std::string, Json> aliases;
    for (const Json& item : select_list) {
      std::string alias = item.value("alias", "");
      if (!alias.empty()) aliases[alias] = item;
    }
    AggregateSplitter splitter(connection_, aggregates_);
    RETURN_IF_ERROR(ProbeAverageTypes(splitter));
    for (const Json& group : groups) {
      Json resolved = group;
      if (auto position = IntegerValue(group)) {
        if (*position < 1 || *position > static_cast<int64_t>(select_list.size())) {
          return CannotDistribute("GROUP BY position out of range");
        }
        resolved = select_list[*position - 1];
      } else if (IsClass(group, "COLUMN_REF") && group["column_names"].size() == 1) {
        std::string name = group["column_names"][0].get<std::string>();
        bool is_column = sources_.top_level_columns.count(name) > 0;
        auto alias = aliases.find(name);
        if (alias != aliases.end() && !is_column) {
          if (!sources_.top_level_columns_known && IsClass(alias->second, "COLUMN_REF") &&
              alias->second["column_names"].back() != name) {
            return CannotDistribute(fmt::format(
                "GROUP BY {} may name a column or a select alias (table columns unknown)", name));
          }
          resolved = alias->second;
        }
      }
      resolved["alias"] = "";
      if (ContainsAggregate(resolved, aggregates_)) {
        return CannotDistribute("aggregate in GROUP BY");
      }
      if (HasSubquery(resolved)) return CannotDistribute("subquery in GROUP BY");
      splitter.group_expressions.push_back(std::move(resolved));
    }

    // Coordinator select list, HAVING and ORDER BY.
    Json coordinator_items = Json::array();
    std::set<std::string> final_names;
    std::vector<Json> items(select_list.begin(), select_list.end());
    ASSIGN_OR_RETURN(std::vector<std::string> names,
                     planner::ResultColumnNames(connection_, items));
    for (size_t i = 0; i < items.size(); ++i) {
      ASSIGN_OR_RETURN(Json rewritten, splitter.Rewrite(items[i], nullptr));
      rewritten["alias"] = names[i];
      final_names.insert(names[i]);
      coordinator_items.push_back(std::move(rewritten));
    }
    Json having = nullptr;
    if (!node_["having"].is_null()) {
      ASSIGN_OR_RETURN(having, splitter.Rewrite(node_["having"], &aliases));
      plan_.notes.push_back("HAVING: applied on the coordinator to the merged aggregates");
    }
    Json modifiers = Json::array();
    for (const Json& modifier : node_["modifiers"]) {
      Json copy = modifier;
      if (modifier.value("type", "") == "ORDER_MODIFIER") {
        for (Json& order : copy["orders"]) {
          const Json& expression = order["expression"];
          if (IntegerValue(expression)) continue;
          if (IsClass(expression, "COLUMN_REF") && expression["column_names"].size() == 1 &&
              final_names.count(expression["column_names"][0].get<std::string>()) > 0) {
            continue;  // a select-list name: the coordinator's column of that name
          }
          ASSIGN_OR_RETURN(order["expression"], splitter.Rewrite(expression, nullptr));
        }
        plan_.notes.push_back("ORDER BY: on the coordinator");
      } else if (modifier.value("type", "") != "DISTINCT_MODIFIER") {
        plan_.notes.push_back(
            "LIMIT/OFFSET: on the coordinator only (groups are complete only after merging)");
      }
      modifiers.push_back(std::move(copy));
    }
    std::vector<Json*> coordinator_expressions = {&having};
    for (Json& item : coordinator_items) coordinator_expressions.push_back(&item);
    for (Json& modifier : modifiers) {
      if (modifier.value("type", "") != "ORDER_MODIFIER") continue;
      for (Json& order : modifier["orders"])
        coordinator_expressions.push_back(&order["expression"]);
    }
    RETURN_IF_ERROR(splitter.ResolveMerges(coordinator_expressions));
    if (splitter.partials.empty() && splitter.group_expressions.empty() &&
        splitter.distinct_expressions.empty()) {
      return CannotDistribute("aggregate query without aggregates or groups");
    }

    // Worker: group keys, distinct keys, partial aggregates.
    Json worker = node_;
    worker["select_list"] = Json::array();
    worker["group_expressions"] = Json::array();
    Json keys = Json::array();
    auto add_key = [&](const Json& expression, const std::string& name) {
      Json item = expression;
      item["alias"] = name;
      keys.push_back(static_cast<int64_t>(worker["group_expressions"].size()));
      worker["group_expressions"].push_back(expression);
      worker["select_list"].push_back(std::move(item));
      plan_.partial_columns.push_back(name);
    };
    for (size_t i = 0; i < splitter.group_expressions.size(); ++i) {
      add_key(splitter.group_expressions[i], AggregateSplitter::KeyName(i));
    }
    for (size_t i = 0; i < splitter.distinct_expressions.size(); ++i) {
      add_key(splitter.distinct_expressions[i], AggregateSplitter::DistinctName(i));
    }
    worker["group_sets"] = keys.empty() ? Json::array() : Json::array({keys});
    for (const auto& [name, expression] : splitter.partials) {
      Json item = expression;
      item["alias"] = name;
      worker["select_list"].push_back(std::move(item));
      plan_.partial_columns.push_back(name);
    }
    worker["having"] = nullptr;
    worker["modifiers"] = Json::array();
    worker["aggregate_handling"] = "STANDARD_HANDLING";
    worker_statement = planner::StatementOf(std::move(worker));
    ASSIGN_OR_RETURN(plan_.worker_sql,
                     planner::DeserializeStatement(connection_, worker_statement));

    // Coordinator: merge per group over the partials table.
    std::string from = Quoted(kPartialsTable);
    if (!splitter.window_columns.empty()) {
      from = fmt::format("(SELECT *, {} FROM {}) AS __partials",
                         fmt::join(splitter.window_columns, ", "), Quoted(kPartialsTable));
    }
    ASSIGN_OR_RETURN(std::vector<Json> templates,
                     planner::SerializeStatements(connection_, "SELECT 1 FROM " + from));
    Json coordinator = templates[0]["node"];
    coordinator["select_list"] = std::move(coordinator_items);
    Json coordinator_sets = Json::array();
    for (size_t i = 0; i < splitter.group_expressions.size(); ++i) {
      coordinator["group_expressions"].push_back(ColumnRef(AggregateSplitter::KeyName(i)));
      coordinator_sets.push_back(static_cast<int64_t>(i));
    }
    coordinator["group_sets"] =
        coordinator_sets.empty() ? Json::array() : Json::array({coordinator_sets});
    coordinator["having"] = std::move(having);
    coordinator["modifiers"] = std::move(modifiers);
    ASSIGN_OR_RETURN(plan_.coordinator_sql,
                     planner::DeserializeStatement(connection_, planner::StatementOf(coordinator)));
    plan_.notes.push_back(fmt::format(
        "aggregate split: workers group by {} key(s){}, {} partial column(s); the coordinator "
        "merges per group",
        splitter.group_expressions.size(),
        splitter.distinct_expressions.empty()
            ? ""
            : fmt::format(" and {} DISTINCT argument(s)", splitter.distinct_expressions.size()),
        splitter.partials.size()));
    for (std::string& note : splitter.notes) plan_.notes.push_back(std::move(note));
    return absl::OkStatus();
  }

  // Fills splitter.average_types with the result type of every avg() the
  // query's select list, HAVING and ORDER BY call (over the query's own
  // FROM clause), or average_types_unknown with why they are not known.
  absl::Status ProbeAverageTypes(AggregateSplitter& splitter) {
    Json calls = Json::array();
    auto collect = [&](const Json& expression) {
      planner::Walk(expression, [&](const Json& node) {
        if (IsClass(node, "FUNCTION") && !node.value("distinct", false) &&
            node["children"].size() == 1) {
          std::string name = LowerCase(node.value("function_name", ""));
          if (name == "avg" || name == "mean") {
            Json call = node;
            call["alias"] = fmt::format("__p{}", calls.size());
            calls.push_back(std::move(call));
            return false;
          }
        }
        return true;
      });
    };
    for (const Json& item : node_["select_list"]) collect(item);
    if (!node_["having"].is_null()) collect(node_["having"]);
    const Json* order = FindModifier(node_, "ORDER_MODIFIER");
    if (order != nullptr) {
      for (const Json& entry : (*order)["orders"]) collect(entry["expression"]);
    }
    if (calls.empty()) return absl::OkStatus();
    Json probe = node_;
    probe["select_list"] = calls;
    probe["group_expressions"] = Json::array();
    probe["group_sets"] = Json::array();
    probe["having"] = nullptr;
    probe["modifiers"] = Json::array();
    probe["aggregate_handling"] = "STANDARD_HANDLING";
    auto columns = types_.Describe(planner::StatementOf(std::move(probe)));
    if (!columns.ok()) {
      splitter.average_types_unknown = std::string(columns.status().message());
      return absl::OkStatus();
    }
    if (columns->size() != calls.size()) return absl::InternalError("avg() type probe mismatch");
    for (size_t i = 0; i < calls.size(); ++i) {
      splitter.average_types[AggregateSplitter::AverageKey(calls[i])] = (*columns)[i].second;
    }
    return absl::OkStatus();
  }

  // Every group lies within one bucket (the GROUP BY names a shard key):
  // workers run the whole aggregation, HAVING included, and the coordinator
  // only concatenates, orders and limits; a constant LIMIT l OFFSET o goes
  // to the workers as LIMIT l + o with the same ORDER BY (top N per worker,
  // exact since no group spans workers). ORDER BY keys the query does not
  // select travel as hidden columns __oN.
  absl::Status PlanBucketLocalAggregate() {
    if (node_.value("aggregate_handling", "") != "STANDARD_HANDLING") {
      return CannotDistribute("GROUP BY ALL");
    }
    const Json& sets = node_["group_sets"];
    if (sets.size() != 1 || sets[0].size() != node_["group_expressions"].size()) {
      return CannotDistribute("GROUPING SETS / ROLLUP / CUBE");
    }
    const Json* distinct = FindModifier(node_, "DISTINCT_MODIFIER");
    if (distinct != nullptr && !(*distinct)["distinct_on_targets"].empty()) {
      return CannotDistribute("DISTINCT ON");
    }
    const Json& select_list = node_["select_list"];
    for (const Json& item : select_list) {
      if (IsClass(item, "STAR")) return CannotDistribute("* in an aggregate query");
    }
    std::vector<Json> items(select_list.begin(), select_list.end());
    ASSIGN_OR_RETURN(std::vector<std::string> names,
                     planner::ResultColumnNames(connection_, items));
    std::set<std::string> unique_names(names.begin(), names.end());
    if (unique_names.size() != names.size()) {
      return CannotDistribute("duplicate result column names");
    }
    const Json* order = FindModifier(node_, "ORDER_MODIFIER");
    Json coordinator_orders = Json::array();
    std::vector<Json> hidden_order_items;
    std::vector<std::string> hidden_order_names;
    if (order != nullptr) {
      for (const Json& entry : (*order)["orders"]) {
        const Json& expression = entry["expression"];
        Json coordinator_entry = entry;
        if (IntegerValue(expression) ||
            (IsClass(expression, "COLUMN_REF") && expression["column_names"].size() == 1 &&
             unique_names.count(expression["column_names"][0].get<std::string>()) > 0)) {
          coordinator_orders.push_back(std::move(coordinator_entry));
          continue;
        }
        std::optional<size_t> item_index;
        for (size_t i = 0; i < items.size() && !item_index; ++i) {
          if (SameExpression(items[i], expression)) item_index = i;
        }
        if (item_index) {
          ASSIGN_OR_RETURN(
              coordinator_entry["expression"],
              planner::IntegerConstant(connection_, static_cast<int64_t>(*item_index) + 1));
        } else {
          // An ORDER BY key the query does not select (`ORDER BY sum(x)`):
          // the workers compute it as one more column for the coordinator to
          // order by; the coordinator does not select it. With DISTINCT the
          // extra column would change which rows are distinct.
          if (distinct != nullptr) {
            return CannotDistribute("SELECT DISTINCT ordered by an expression it does not select");
          }
          std::string name = fmt::format("__o{}", hidden_order_items.size());
          bool taken = false;
          for (const std::string& other : names) taken = taken || LowerCase(other) == name;
          if (taken) {
            return CannotDistribute(fmt::format("a result column is named {}", name));
          }
          Json item = expression;
          item["alias"] = name;
          hidden_order_items.push_back(std::move(item));
          hidden_order_names.push_back(name);
          coordinator_entry["expression"] = ColumnRef(name);
        }
        coordinator_orders.push_back(std::move(coordinator_entry));
      }
    }
    LimitInfo limit = ReadLimit(node_);

    Json worker = node_;  // GROUP BY, HAVING and aliases as written
    for (Json& item : hidden_order_items) worker["select_list"].push_back(std::move(item));
    worker["modifiers"] = Json::array();
    if (distinct != nullptr) worker["modifiers"].push_back(*distinct);
    if (limit.present && limit.pushable) {
      if (order != nullptr) worker["modifiers"].push_back(*order);
      Json worker_limit = *FindModifier(node_, "LIMIT_MODIFIER");
      ASSIGN_OR_RETURN(worker_limit["limit"],
                       planner::IntegerConstant(connection_, limit.limit + limit.offset));
      worker_limit["offset"] = nullptr;
      worker["modifiers"].push_back(std::move(worker_limit));
    }
    worker_statement = planner::StatementOf(std::move(worker));
    ASSIGN_OR_RETURN(std::string worker_sql,
                     planner::DeserializeStatement(connection_, worker_statement));

    ASSIGN_OR_RETURN(std::vector<Json> templates,
                     planner::SerializeStatements(
                         connection_, fmt::format("SELECT * FROM {}", Quoted(kPartialsTable))));
    Json coordinator = templates[0]["node"];
    coordinator["select_list"] = Json::array();
    for (const std::string& name : names) coordinator["select_list"].push_back(ColumnRef(name));
    coordinator["modifiers"] = Json::array();
    if (distinct != nullptr) coordinator["modifiers"].push_back(*distinct);
    if (order != nullptr) {
      Json coordinator_order = *order;
      coordinator_order["orders"] = std::move(coordinator_orders);
      coordinator["modifiers"].push_back(std::move(coordinator_order));
    }
    for (const Json& modifier : node_["modifiers"]) {
      std::string type = modifier.value("type", "");
      if (type == "LIMIT_MODIFIER" || type == "LIMIT_PERCENT_MODIFIER") {
        coordinator["modifiers"].push_back(modifier);
      }
    }
    ASSIGN_OR_RETURN(std::string coordinator_sql,
                     planner::DeserializeStatement(connection_, planner::StatementOf(coordinator)));

    plan_.worker_sql = std::move(worker_sql);
    plan_.coordinator_sql = std::move(coordinator_sql);
    plan_.partial_columns = names;
    plan_.partial_columns.insert(plan_.partial_columns.end(), hidden_order_names.begin(),
                                 hidden_order_names.end());
    plan_.notes.push_back(fmt::format(
        "bucket-local groups: GROUP BY includes shard key {}, so each group is complete in one "
        "slice; workers aggregate fully (HAVING included), the coordinator concatenates",
        sources_.grouping_shard_key));
    if (limit.present && limit.pushable) {
      if (order != nullptr) {
        plan_.notes.push_back(fmt::format(
            "top N per worker: ORDER BY as written, LIMIT {} (= LIMIT {} + OFFSET {}); every "
            "group is complete in one slice, so the answer's groups are among the union of the "
            "workers' top {}; ORDER BY, LIMIT and OFFSET applied again on the coordinator{}",
            limit.limit + limit.offset, limit.limit, limit.offset, limit.limit + limit.offset,
            OrdersGroupsTotally(node_, *order, items, names)
                ? ""
                : " (the ORDER BY does not name every GROUP BY key: rows tied at the cut may "
                  "differ from a single node's pick, as they may between two single-node runs)"));
      } else {
        plan_.notes.push_back(fmt::format(
            "LIMIT {} pushed to the workers (no ORDER BY: any {} groups of a slice will do); "
            "LIMIT/OFFSET applied again on the coordinator",
            limit.limit + limit.offset, limit.limit + limit.offset));
      }
    } else if (limit.present) {
      plan_.notes.push_back(
          "LIMIT is not a constant (an expression or a percentage): applied on the coordinator "
          "only, the workers ship every group");
    }
    if (order != nullptr) plan_.notes.push_back("ORDER BY: on the coordinator");
    return absl::OkStatus();
  }

  absl::Status PlanScan() {
    const Json& select_list = node_["select_list"];
    const Json* distinct = FindModifier(node_, "DISTINCT_MODIFIER");
    if (distinct != nullptr && !(*distinct)["distinct_on_targets"].empty()) {
      return CannotDistribute("DISTINCT ON");
    }
    const Json* order = FindModifier(node_, "ORDER_MODIFIER");
    LimitInfo limit = ReadLimit(node_);
    bool star = false;
    for (const Json& item : select_list) star = star || IsClass(item, "STAR");

    Json worker = node_;
    worker["modifiers"] = Json::array();
    Json worker_orders = Json::array();
    Json coordinator_orders = Json::array();
    std::vector<std::string> final_names;
    if (star) {
      if (order != nullptr) {
        std::set<std::string> order_names;
        for (const Json& entry : (*order)["orders"]) {
          const Json& expression = entry["expression"];
          if (IsClass(expression, "COLUMN_REF")) {
            order_names.insert(LowerCase(expression["column_names"].back().get<std::string>()));
          }
        }
        for (const Json& item : select_list) {
          // The coordinator orders the worker's columns by name: a column
          // the star leaves out or renames is not among them.
          auto has = [&](const char* key) {
            return item.contains(key) && !item[key].is_null() && !item[key].empty();
          };
          bool excluded = false;
          if (has("exclude_list")) {
            for (const Json& name : item["exclude_list"]) {
              excluded = excluded || !name.is_string() ||
                         order_names.count(LowerCase(name.get<std::string>())) > 0;
            }
          }
          bool plain =
              !IsClass(item, "STAR") ||
              (!excluded && !has("replace_list") && !has("rename_list") &&
               !has("qualified_exclude_list") && !item.value("columns", false) && !has("expr"));
          if (!plain) {
            return CannotDistribute(
                "ORDER BY with SELECT * EXCLUDE (of an ORDER BY column) / REPLACE / RENAME or "
                "COLUMNS(...)");
          }
        }
        for (const Json& entry : (*order)["orders"]) {
          const Json& expression = entry["expression"];
          bool simple =
              IntegerValue(expression).has_value() ||
              (IsClass(expression, "COLUMN_REF") && expression["column_names"].size() == 1);
          if (!simple) return CannotDistribute("ORDER BY an expression together with SELECT *");
          worker_orders.push_back(entry);
          coordinator_orders.push_back(entry);
        }
      }
    } else {
      worker["select_list"] = Json::array();
      std::vector<Json> items(select_list.begin(), select_list.end());
      ASSIGN_OR_RETURN(final_names, planner::ResultColumnNames(connection_, items));
      for (size_t i = 0; i < select_list.size(); ++i) {
        Json item = select_list[i];
        item["alias"] = fmt::format("__c{}", i);
        plan_.partial_columns.push_back(item["alias"]);
        worker["select_list"].push_back(std::move(item));
      }
      if (order != nullptr) {
        size_t extra = 0;
        for (const Json& entry : (*order)["orders"]) {
          const Json& expression = entry["expression"];
          std::optional<size_t> item_index;
          if (auto position = IntegerValue(expression)) {
            if (*position < 1 || *position > static_cast<int64_t>(select_list.size())) {
              return CannotDistribute("ORDER BY position out of range");
            }
            item_index = static_cast<size_t>(*position - 1);
          } else if (IsClass(expression, "COLUMN_REF") && expression["column_names"].size() == 1) {
            std::string name = expression["column_names"][0].get<std::string>();
            for (size_t i = 0; i < final_names.size() && !item_index; ++i) {
              if (final_names[i] == name) item_index = i;
            }
          }
          for (size_t i = 0; i < select_list.size() && !item_index; ++i) {
            if (SameExpression(select_list[i], expression)) item_index = i;
          }
          Json worker_entry = entry;
          Json coordinator_entry = entry;
          if (item_index) {
            worker_entry["expression"] = ColumnRef(fmt::format("__c{}", *item_index));
            ASSIGN_OR_RETURN(
                coordinator_entry["expression"],
                planner::IntegerConstant(connection_, static_cast<int64_t>(*item_index) + 1));
          } else {
            if (distinct != nullptr) {
              return CannotDistribute(
                  "SELECT DISTINCT ordered by an expression it does not select");
            }
            std::string name = fmt::format("__o{}", extra++);
            Json item = expression;
            item["alias"] = name;
            worker["select_list"].push_back(std::move(item));
            plan_.partial_columns.push_back(name);
            worker_entry["expression"] = ColumnRef(name);
            coordinator_entry["expression"] = ColumnRef(name);
          }
          worker_orders.push_back(std::move(worker_entry));
          coordinator_orders.push_back(std::move(coordinator_entry));
        }
      }
    }

    if (distinct != nullptr) worker["modifiers"].push_back(*distinct);
    if (limit.present && limit.pushable) {
      if (order != nullptr) {
        Json worker_order = *order;
        worker_order["orders"] = worker_orders;
        worker["modifiers"].push_back(std::move(worker_order));
      }
      Json worker_limit = *FindModifier(node_, "LIMIT_MODIFIER");
      ASSIGN_OR_RETURN(worker_limit["limit"],
                       planner::IntegerConstant(connection_, limit.limit + limit.offset));
      worker_limit["offset"] = nullptr;
      worker["modifiers"].push_back(std::move(worker_limit));
      plan_.notes.push_back(fmt::format(
          "LIMIT {} pushed to the workers{} (each keeps the first {} rows, which contain the "
          "answer's rows); LIMIT/OFFSET applied again on the coordinator",
          limit.limit + limit.offset, order != nullptr ? " with the same ORDER BY" : "",
          limit.limit + limit.offset));
    } else if (limit.present) {
      plan_.notes.push_back("LIMIT is not a constant: applied on the coordinator only");
    }
    worker_statement = planner::StatementOf(std::move(worker));
    ASSIGN_OR_RETURN(plan_.worker_sql,
                     planner::DeserializeStatement(connection_, worker_statement));

    ASSIGN_OR_RETURN(std::vector<Json> templates,
                     planner::SerializeStatements(
                         connection_, fmt::format("SELECT * FROM {}", Quoted(kPartialsTable))));
    Json coordinator = templates[0]["node"];
    if (!star) {
      coordinator["select_list"] = Json::array();
      for (size_t i = 0; i < final_names.size(); ++i) {
        Json item = ColumnRef(fmt::format("__c{}", i));
        item["alias"] = final_names[i];
        coordinator["select_list"].push_back(std::move(item));
      }
    }
    coordinator["modifiers"] = Json::array();
    if (distinct != nullptr) coordinator["modifiers"].push_back(*distinct);
    if (order != nullptr) {
      Json coordinator_order = *order;
      coordinator_order["orders"] = coordinator_orders;
      coordinator["modifiers"].push_back(std::move(coordinator_order));
      plan_.notes.push_back("ORDER BY: on the coordinator");
    }
    for (const Json& modifier : node_["modifiers"]) {
      std::string type = modifier.value("type", "");
      if (type == "LIMIT_MODIFIER" || type == "LIMIT_PERCENT_MODIFIER") {
        coordinator["modifiers"].push_back(modifier);
      }
    }
    ASSIGN_OR_RETURN(plan_.coordinator_sql,
                     planner::DeserializeStatement(connection_, planner::StatementOf(coordinator)));
    plan_.notes.push_back(std::string("scan: filters and projections on the workers") +
                          (distinct != nullptr ? "; DISTINCT on workers and coordinator" : ""));
    return absl::OkStatus();
  }

 private:
  duck::Connection& connection_;
  const std::set<std::string>& aggregates_;
  const Json& node_;
  const planner::SourceAnalysis& sources_;
  TypeProbe& types_;
  DistributedPlan& plan_;
};

struct CommonTableExpression {
  std::string name;  // lower case: identifiers are case-insensitive
  Json statement;    // {"node": ..., "named_param_map": ...}
  Json aliases;      // WITH name(a, b) AS ...
  int references = 0;
};

// Replaces references to `ctes` (FROM-clause base tables named like them)
// under `value` by derived tables holding their queries.
void ReplaceCteReferences(Json& value, std::vector<CommonTableExpression>& ctes) {
  if (value.is_array()) {
    for (Json& element : value) ReplaceCteReferences(element, ctes);
    return;
  }
  if (!value.is_object()) return;
  const Json* type = value.contains("type") ? &value["type"] : nullptr;
  if (type != nullptr && type->is_string() && *type == "BASE_TABLE" &&
      value.value("schema_name", "").empty() && value.value("catalog_name", "").empty()) {
    std::string name = LowerCase(value.value("table_name", ""));
    for (CommonTableExpression& cte : ctes) {
      if (cte.name != name) continue;
      ++cte.references;
      Json derived = Json::object();
      derived["type"] = "SUBQUERY";
      std::string alias = value.value("alias", "");
      derived["alias"] = alias.empty() ? value.value("table_name", "") : alias;
      derived["sample"] = value["sample"];
      derived["query_location"] = value.value("query_location", 0);
      derived["subquery"] = cte.statement;
      derived["column_name_alias"] =
          value["column_name_alias"].empty() ? cte.aliases : value["column_name_alias"];
      value = std::move(derived);
      return;
    }
    return;
  }
  for (auto& [key, child] : value.items()) {
    if (child.is_object() || child.is_array()) ReplaceCteReferences(child, ctes);
  }
}

// Inlines the top-level WITH clause: each common table expression becomes a
// derived table where it is referenced (the same rows, as its query is
// deterministic), so the source analysis sees through it. Recursive and
// MATERIALIZED ones are not inlined.
absl::Status InlineCommonTableExpressions(Json& node, std::vector<std::string>& notes) {
  Json& map = node["cte_map"]["map"];
  if (map.empty()) return absl::OkStatus();
  std::vector<CommonTableExpression> ctes;
  for (Json& entry : map) {
    const Json& value = entry["value"];
    std::string name = entry.value("key", "");
    if (value.value("materialized", "") == "CTE_MATERIALIZE_ALWAYS") {
      return CannotDistribute(fmt::format("WITH {} AS MATERIALIZED", name));
    }
    if (value.contains("key_targets") && !value["key_targets"].empty()) {
      return CannotDistribute(fmt::format("WITH {} USING KEY", name));
    }
    Json statement = value["query"];
    if (statement["node"].value("type", "") != "SELECT_NODE") {
      return CannotDistribute(
          fmt::format("WITH {}: recursive or set-operation common table expression", name));
    }
    // Earlier CTEs may be referenced by later ones.
    ReplaceCteReferences(statement["node"], ctes);
    CommonTableExpression cte;
    cte.name = LowerCase(name);
    cte.statement = std::move(statement);
    cte.aliases = value["aliases"];
    ctes.push_back(std::move(cte));
  }
  map = Json::array();
  ReplaceCteReferences(node, ctes);
  for (const CommonTableExpression& cte : ctes) {
    notes.push_back(fmt::format("WITH {}: inlined as a derived table ({} reference(s))", cte.name,
                                cte.references));
  }
  return absl::OkStatus();
}

bool ContainsClass(const Json& value, const char* expression_class) {
  if (IsClass(value, expression_class)) return true;
  if (value.is_object() || value.is_array()) {
    for (const Json& child : value) {
      if (ContainsClass(child, expression_class)) return true;
    }
  }
  return false;
}

// ORDER BY ALL is ORDER BY 1, 2, ..., n (the select list's positions).
absl::Status ExpandOrderByAll(duck::Connection& connection, Json& node) {
  for (Json& modifier : node["modifiers"]) {
    if (modifier.value("type", "") != "ORDER_MODIFIER") continue;
    Json& orders = modifier["orders"];
    if (orders.size() != 1 || !IsClass(orders[0]["expression"], "STAR")) continue;
    for (const Json& item : node["select_list"]) {
      if (IsClass(item, "STAR")) return CannotDistribute("ORDER BY ALL with SELECT *");
    }
    Json expanded = Json::array();
    for (size_t i = 0; i < node["select_list"].size(); ++i) {
      Json entry = orders[0];
      ASSIGN_OR_RETURN(entry["expression"],
                       planner::IntegerConstant(connection, static_cast<int64_t>(i) + 1));
      expanded.push_back(std::move(entry));
    }
    orders = std::move(expanded);
  }
  return absl::OkStatus();
}

bool IsAggregateQuery(const Json& node, const std::set<std::string>& aggregates) {
  if (!node["group_expressions"].empty() || !node["having"].is_null()) return true;
  if (node.value("aggregate_handling", "") == "FORCE_AGGREGATES") return true;
  for (const Json& item : node["select_list"]) {
    if (ContainsAggregate(item, aggregates)) return true;
  }
  const Json* order = FindModifier(node, "ORDER_MODIFIER");
  if (order != nullptr) {
    for (const Json& entry : (*order)["orders"]) {
      if (ContainsAggregate(entry["expression"], aggregates)) return true;
    }
  }
  return false;
}

// Where a COLLATE clause sits in the parts of `node` whose values the
// coordinator compares (select list, GROUP BY, HAVING, ORDER BY, DISTINCT
// ON), or "" when none does. Collations stay on the workers: a partial
// result's column is plain VARCHAR (its DESCRIBE type), so the coordinator
// would sort, group and take min/max byte-wise.
std::string FindCoordinatorCollation(const Json& node) {
  bool found = false;
  auto check = [&](const Json& part) {
    planner::WalkAll(part, [&](const Json& expression) {
      if (IsClass(expression, "COLLATE")) found = true;
    });
    return found;
  };
  if (check(node["select_list"])) return "the select list";
  if (check(node["group_expressions"])) return "GROUP BY";
  if (check(node["having"])) return "HAVING";
  for (const Json& modifier : node["modifiers"]) {
    if (check(modifier)) return "ORDER BY / DISTINCT ON";
  }
  return "";
}

// A select-list alias that WHERE or another select-list item refers to
// (DuckDB binds such a name to the alias when no column of the FROM clause
// has it), or "" when none is.
std::string FindLateralAlias(const Json& node, const planner::SourceAnalysis& sources) {
  std::map<std::string, size_t> aliases;
  const Json& select_list = node["select_list"];
  for (size_t i = 0; i < select_list.size(); ++i) {
    std::string alias = select_list[i].value("alias", "");
    if (!alias.empty()) aliases.emplace(LowerCase(alias), i);
  }
  if (aliases.empty()) return "";
  std::set<std::string> columns;
  for (const std::string& column : sources.top_level_columns) columns.insert(LowerCase(column));
  std::string found;
  auto check = [&](const Json& expression, std::optional<size_t> item) {
    planner::Walk(expression, [&](const Json& ref) {
      if (!found.empty()) return false;
      if (!IsClass(ref, "COLUMN_REF") || ref["column_names"].size() != 1) return true;
      std::string name = LowerCase(ref["column_names"][0].get<std::string>());
      auto alias = aliases.find(name);
      if (alias == aliases.end() || (item && alias->second == *item)) return true;
      if (sources.top_level_columns_known && columns.count(name) > 0) return true;
      found = ref["column_names"][0].get<std::string>();
      return false;
    });
  };
  if (!node["where_clause"].is_null()) check(node["where_clause"], std::nullopt);
  for (size_t i = 0; i < select_list.size(); ++i) check(select_list[i], i);
  return found;
}

// The names DuckDB's binder turns into function calls when no table in
// scope has such a column (GetSQLValueFunctionName): they read the clock or
// the session, so they are volatile like now().
const std::set<std::string>& SqlValueKeywords() {
  static const std::set<std::string> names = {
      "current_catalog", "current_date",      "current_role", "current_schema",
      "current_time",    "current_timestamp", "current_user", "localtime",
      "localtimestamp",  "session_user",      "user"};
  return names;
}

// The first call in `node` (subqueries included) whose value may differ
// between two evaluations: a function DuckDB does not mark CONSISTENT, or a
// SQL value keyword that names no column of the query's tables. Empty if
// none.
std::string FindVolatileCall(const Json& node, const std::set<std::string>& volatile_functions,
                             const std::set<std::string>& table_columns) {
  std::string found;
  planner::WalkAll(node, [&](const Json& expression) {
    if (!found.empty()) return;
    if (IsClass(expression, "FUNCTION")) {
      std::string name = LowerCase(expression.value("function_name", ""));
      if (volatile_functions.count(name) > 0) found = name + "()";
    } else if (IsClass(expression, "COLUMN_REF") && expression["column_names"].size() == 1) {
      std::string name = expression["column_names"][0].get<std::string>();
      if (SqlValueKeywords().count(LowerCase(name)) > 0 &&
          table_columns.count(LowerCase(name)) == 0) {
        found = LowerCase(name);
      }
    }
  });
  return found;
}

// Checks a finished plan: the worker query calls nothing volatile (each
// worker would get its own now() or random()), and, when the tables' column
// types are known, the coordinator's result has the single-node column names
// and types. FailedPrecondition (the reason) when the plan must not be used.
absl::Status VerifyPlan(duck::Connection& connection, const Json& node,
                        const Json& worker_statement,
                        const std::set<std::string>& volatile_functions,
                        const std::set<std::string>& table_columns, TypeProbe& types,
                        const DistributedPlan& plan) {
  std::string volatile_call =
      FindVolatileCall(worker_statement["node"], volatile_functions, table_columns);
  if (!volatile_call.empty()) {
    return CannotDistribute(fmt::format(
        "{} is not deterministic (it reads a clock, a random source, a sequence or the session) "
        "and would be evaluated by each worker separately",
        volatile_call));
  }
  auto expected = types.Describe(planner::StatementOf(node));
  if (absl::IsFailedPrecondition(expected.status())) return absl::OkStatus();  // types unknown
  if (!expected.ok()) {
    return CannotDistribute(fmt::format("the query does not bind over the tables' schemas ({})",
                                        std::string(expected.status().message())));
  }
  auto worker_columns = types.Describe(worker_statement);
  if (!worker_columns.ok()) {
    return CannotDistribute(fmt::format("the worker query does not bind ({})",
                                        std::string(worker_columns.status().message())));
  }
  TypeProbe::Columns partials = std::move(*worker_columns);
  if (!plan.partial_columns.empty()) {
    if (plan.partial_columns.size() != partials.size()) {
      return absl::InternalError(
          "worker query columns differ from DistributedPlan::partial_columns");
    }
    for (size_t i = 0; i < partials.size(); ++i) partials[i].first = plan.partial_columns[i];
  }
  auto actual = TypeProbe::DescribeOverPartials(connection, plan.coordinator_sql, partials);
  if (!actual.ok()) {
    return CannotDistribute(fmt::format("the coordinator query does not bind ({})",
                                        std::string(actual.status().message())));
  }
  if (actual->size() != expected->size()) {
    return CannotDistribute(fmt::format("the merged result would have {} columns, not {}",
                                        actual->size(), expected->size()));
  }
  for (size_t i = 0; i < actual->size(); ++i) {
    const auto& [want_name, want_type] = (*expected)[i];
    const auto& [got_name, got_type] = (*actual)[i];
    if (want_name != got_name || want_type != got_type) {
      return CannotDistribute(
          fmt::format("result column {} would be {} {} when merged, but is {} {} on one node",
                      i + 1, got_name, got_type, want_name, want_type));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DistributedPlan> DistributedPlanner::Plan(const std::string& sql,
                                                         const TableLayoutLookup& lookup) {
  try {
    return PlanTree(sql, lookup);
  } catch (const planner::Json::exception& e) {
    // DuckDB's AST had a shape the planner does not expect: a planner bug,
    // but the query still runs on the server.
    DistributedPlan plan;
    plan.reason = fmt::format("unexpected query tree ({})", e.what());
    return plan;
  }
}

absl::StatusOr<DistributedPlan> DistributedPlanner::PlanTree(const std::string& sql,
                                                             const TableLayoutLookup& lookup) {
  RETURN_IF_ERROR(connection_.Parse(sql));
  if (!aggregate_functions_) {
    ASSIGN_OR_RETURN(auto result,
                     connection_.Query("SELECT DISTINCT function_name FROM duckdb_functions() "
                                       "WHERE function_type = 'aggregate'"));
    ASSIGN_OR_RETURN(auto rows, result->FetchAllAsStrings());
    std::set<std::string> names;
    for (const auto& row : rows) {
      if (row[0]) names.insert(LowerCase(*row[0]));
    }
    aggregate_functions_ = std::move(names);
  }
  if (!volatile_functions_) {
    ASSIGN_OR_RETURN(auto result,
                     connection_.Query("SELECT DISTINCT function_name FROM duckdb_functions() "
                                       "WHERE stability <> 'CONSISTENT'"));
    ASSIGN_OR_RETURN(auto rows, result->FetchAllAsStrings());
    std::set<std::string> names;
    for (const auto& row : rows) {
      if (row[0]) names.insert(LowerCase(*row[0]));
    }
    volatile_functions_ = std::move(names);
  }
  DistributedPlan plan;
  auto statements = planner::SerializeStatements(connection_, sql);
  if (!statements.ok()) {
    // Parsable (checked above) but not serializable: not a SELECT.
    plan.reason = "not a SELECT statement";
    return plan;
  }
  if (statements->size() != 1) {
    return absl::InvalidArgumentError(
        fmt::format("expected one statement, got {}", statements->size()));
  }
  Json& node = (*statements)[0]["node"];
  if (node.value("type", "") != "SELECT_NODE") {
    plan.reason = "set operation (UNION / INTERSECT / EXCEPT)";
    return plan;
  }
  if (ContainsClass(node, "PARAMETER")) {
    plan.reason = "prepared-statement parameter";
    return plan;
  }
  if (ContainsClass(node, "POSITIONAL_REFERENCE")) {
    // #n names the n-th column of the FROM clause; the worker's select list
    // and the result's column names would have to be rebuilt around it.
    plan.reason = "positional reference (#n)";
    return plan;
  }
  std::vector<std::string> cte_notes;
  absl::Status prepared = InlineCommonTableExpressions(node, cte_notes);
  if (prepared.ok()) prepared = ExpandOrderByAll(connection_, node);
  if (absl::IsFailedPrecondition(prepared)) {
    plan.reason = std::string(prepared.message());
    return plan;
  }
  RETURN_IF_ERROR(prepared);
  if (std::string where = FindCoordinatorCollation(node); !where.empty()) {
    plan.reason = fmt::format(
        "COLLATE in {}: partial results do not carry collations, so the coordinator would "
        "compare the strings byte-wise",
        where);
    return plan;
  }
  planner::SourceAnalysis sources = planner::AnalyzeSources(node, lookup, *aggregate_functions_);
  if (!sources.ok) {
    plan.reason = sources.reason;
    return plan;
  }
  if (std::string alias = FindLateralAlias(node, sources); !alias.empty()) {
    // The worker query renames the select list (__c0, __k0, ...), so the
    // alias would no longer be there to refer to.
    plan.reason = fmt::format("WHERE or the select list refers to the select-list alias {}", alias);
    return plan;
  }
  plan.notes = std::move(cte_notes);
  plan.notes.insert(plan.notes.end(), sources.notes.begin(), sources.notes.end());
  TypeProbe types(connection_, lookup);
  // Lower-case column names of the query's tables: a SQL value keyword such
  // as `user` that names one of them is a column, not a call.
  std::set<std::string> table_columns;
  for (const auto* tables : {&sources.sliced_tables, &sources.whole_tables}) {
    for (const std::string& name : *tables) {
      if (auto layout = lookup(name)) {
        for (const std::string& column : layout->columns) table_columns.insert(LowerCase(column));
      }
    }
  }
  // Plans with `method`, then verifies the plan; FailedPrecondition when
  // this way of distributing does not apply.
  const DistributedPlan initial = plan;
  auto attempt = [&](absl::Status (QueryPlanner::*method)()) -> absl::Status {
    plan = initial;
    QueryPlanner query_planner(connection_, *aggregate_functions_, node, sources, types, plan);
    RETURN_IF_ERROR((query_planner.*method)());
    return VerifyPlan(connection_, node, query_planner.worker_statement, *volatile_functions_,
                      table_columns, types, plan);
  };
  absl::Status status;
  if (!IsAggregateQuery(node, *aggregate_functions_)) {
    status = attempt(&QueryPlanner::PlanScan);
  } else {
    status = CannotDistribute("groups span buckets");
    if (!sources.grouping_shard_key.empty()) {
      status = attempt(&QueryPlanner::PlanBucketLocalAggregate);
    }
    if (absl::IsFailedPrecondition(status)) status = attempt(&QueryPlanner::PlanAggregate);
  }
  if (absl::IsFailedPrecondition(status)) {
    DistributedPlan fallback;
    fallback.reason = std::string(status.message());
    return fallback;
  }
  RETURN_IF_ERROR(status);
  plan.distributed = true;
  plan.sliced_tables = std::move(sources.sliced_tables);
  plan.whole_tables = std::move(sources.whole_tables);
  plan.slice_by_bucket = sources.slice_by_bucket;
  return plan;
}

}  // namespace shardlake
