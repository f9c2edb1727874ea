#include "query/pruning.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "common/sql_text.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

using json = nlohmann::json;

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

constexpr double kNumericRelativeSlack = 1e-6;

// Non-throwing accessors: AST nodes are only read, never trusted.
std::string Str(const json& node, const char* key) {
  if (!node.is_object()) return "";
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& Member(const json& node, const char* key) {
  static const json kNull;
  if (!node.is_object()) return kNull;
  auto it = node.find(key);
  return it != node.end() ? *it : kNull;
}

bool Flag(const json& node, const char* key, bool fallback) {
  const json& value = Member(node, key);
  return value.is_boolean() ? value.get<bool>() : fallback;
}

// Functions whose value differs between two evaluations; a predicate using one
// cannot be evaluated ahead of the query.
const std::set<std::string>& VolatileFunctions() {
  static const std::set<std::string> names = {"random", "uuid",    "gen_random_uuid", "uuidv4",
                                              "uuidv7", "nextval", "currval",         "setseed"};
  return names;
}

// True if `node` is an expression DuckDB can evaluate without any row.
bool IsFoldable(const json& node) {
  if (!node.is_object()) return false;
  std::string cls = Str(node, "class");
  if (cls == "CONSTANT") return true;
  if (cls == "CAST") return IsFoldable(Member(node, "child"));
  if (cls == "FUNCTION" || cls == "OPERATOR" || cls == "CASE" || cls == "COMPARISON" ||
      cls == "CONJUNCTION") {
    if (cls == "FUNCTION") {
      if (VolatileFunctions().count(Lower(Str(node, "function_name"))) != 0) return false;
      if (node.contains("filter") && !Member(node, "filter").is_null()) return false;
    }
    // Every nested expression must be foldable; scan all object children.
    for (const auto& [key, value] : node.items()) {
      if (key == "order_bys" || key == "filter") continue;
      if (value.is_object() && value.contains("class") && !IsFoldable(value)) return false;
      if (value.is_array()) {
        for (const auto& item : value) {
          if (item.is_object() && item.contains("class") && !IsFoldable(item)) return false;
          if (item.is_object() && !item.contains("class")) {  // CASE checks: {when, then}
            for (const auto& [k, v] : item.items()) {
              if (v.is_object() && v.contains("class") && !IsFoldable(v)) return false;
            }
          }
        }
      }
    }
    return true;
  }
  return false;
}

bool IsVarcharConstant(const json& node) {
  return node.is_object() && Str(node, "class") == "CONSTANT" && node.contains("value") &&
         Member(node, "value").contains("type") &&
         Str(Member(Member(node, "value"), "type"), "id") == "VARCHAR" &&
         !Flag(Member(node, "value"), "is_null", true);
}

// One raw predicate found in a WHERE clause: column OP operands.
struct RawPredicate {
  std::string op;  // "=", "<", "<=", ">", ">=", "between", "in"
  std::vector<const json*> operands;
};

struct Reference {
  std::string schema;  // as written (may be empty)
  std::string table;
  std::string alias;
  std::string key;  // "database.table" after resolution; empty if not a lake table
  const TableSchema* resolved = nullptr;
  std::map<std::string, std::vector<RawPredicate>> predicates;  // by column name
};

std::string FlipOp(const std::string& op) {
  if (op == "<") return ">";
  if (op == "<=") return ">=";
  if (op == ">") return "<";
  if (op == ">=") return "<=";
  return op;
}

std::optional<std::string> ComparisonOp(const std::string& type) {
  if (type == "COMPARE_EQUAL") return "=";
  if (type == "COMPARE_LESSTHAN") return "<";
  if (type == "COMPARE_LESSTHANOREQUALTO") return "<=";
  if (type == "COMPARE_GREATERTHAN") return ">";
  if (type == "COMPARE_GREATERTHANOREQUALTO") return ">=";
  return std::nullopt;
}

class Analyzer {
 public:
  Analyzer(std::string default_database, const SchemaLookup& lookup)
      : default_database_(std::move(default_database)), lookup_(lookup) {}

  void Run(const json& root) {
    CollectCtes(root);
    CollectReferences(root);
    ProcessSelects(root);
  }

  std::vector<Reference>& references() { return references_; }
  const std::set<std::string>& cte_names() const { return cte_names_; }

 private:
  void CollectCtes(const json& node) {
    if (node.is_object()) {
      if (node.contains("cte_map") && Member(node, "cte_map").contains("map")) {
        for (const auto& entry : Member(Member(node, "cte_map"), "map")) {
          if (entry.contains("key") && entry["key"].is_string()) {
            cte_names_.insert(Lower(entry["key"].get<std::string>()));
          }
        }
      }
      for (const auto& [key, value] : node.items()) CollectCtes(value);
    } else if (node.is_array()) {
      for (const auto& item : node) CollectCtes(item);
    }
  }

  void CollectReferences(const json& node) {
    if (node.is_object()) {
      if (Str(node, "type") == "BASE_TABLE" && node.contains("table_name")) {
        Reference ref;
        ref.schema = Str(node, "schema_name");
        ref.table = Str(node, "table_name");
        ref.alias = Str(node, "alias");
        bool is_cte = ref.schema.empty() && cte_names_.count(Lower(ref.table)) != 0;
        if (!is_cte) {
          std::string database = ref.schema.empty() ? default_database_ : ref.schema;
          ref.resolved = lookup_(database, ref.table);
          if (ref.resolved != nullptr) {
            ref.key = ref.resolved->database + "." + ref.resolved->table;
          }
        }
        index_of_[&node] = references_.size();
        references_.push_back(std::move(ref));
        return;
      }
      for (const auto& [key, value] : node.items()) CollectReferences(value);
    } else if (node.is_array()) {
      for (const auto& item : node) CollectReferences(item);
    }
  }

  void ProcessSelects(const json& node) {
    if (node.is_object()) {
      if (Str(node, "type") == "SELECT_NODE") ProcessSelect(node);
      for (const auto& [key, value] : node.items()) ProcessSelects(value);
    } else if (node.is_array()) {
      for (const auto& item : node) ProcessSelects(item);
    }
  }

  // The BASE_TABLE references directly in a FROM clause (through joins, not
  // into subqueries, which are SELECT nodes of their own).
  void DirectReferences(const json& from, std::vector<size_t>* out) {
    if (!from.is_object()) return;
    std::string type = Str(from, "type");
    if (type == "BASE_TABLE") {
      auto it = index_of_.find(&from);
      if (it != index_of_.end()) out->push_back(it->second);
    } else if (type == "JOIN") {
      DirectReferences(Member(from, "left"), out);
      DirectReferences(Member(from, "right"), out);
    }
  }

  void Conjuncts(const json& expr, std::vector<const json*>* out) {
    if (!expr.is_object()) return;
    if (Str(expr, "class") == "CONJUNCTION" && Str(expr, "type") == "CONJUNCTION_AND") {
      for (const auto& child : Member(expr, "children")) Conjuncts(child, out);
      return;
    }
    out->push_back(&expr);
  }

  // Resolves a COLUMN_REF to one of `refs`; returns false if it cannot be
  // resolved unambiguously to a lake table column.
  bool ResolveColumn(const json& column_ref, const std::vector<size_t>& refs, size_t* ref_index,
                     std::string* column) {
    if (!column_ref.is_object() || Str(column_ref, "class") != "COLUMN_REF") return false;
    const json& names = Member(column_ref, "column_names");
    if (!names.is_array() || names.empty() || names.size() > 2) return false;
    for (const auto& part : names) {
      if (!part.is_string()) return false;
    }
    std::string name = Lower(names.back().get<std::string>());
    std::optional<std::string> qualifier;
    if (names.size() == 2) qualifier = Lower(names[0].get<std::string>());
    int matches = 0;
    for (size_t index : refs) {
      const Reference& ref = references_[index];
      if (qualifier) {
        std::string visible = Lower(ref.alias.empty() ? ref.table : ref.alias);
        if (*qualifier != visible) continue;
      }
      if (ref.resolved == nullptr) {
        // A non-lake relation (CTE, system table) could own the column.
        if (!qualifier) return false;
        continue;
      }
      for (const auto& col : ref.resolved->columns) {
        if (Lower(col.name) == name) {
          ++matches;
          *ref_index = index;
          *column = col.name;
        }
      }
    }
    return matches == 1;
  }

  void ProcessSelect(const json& select) {
    std::vector<size_t> refs;
    DirectReferences(Member(select, "from_table"), &refs);
    if (refs.empty() || !select.contains("where_clause") ||
        Member(select, "where_clause").is_null()) {
      return;
    }
    std::vector<const json*> conjuncts;
    Conjuncts(Member(select, "where_clause"), &conjuncts);
    for (const json* conjunct : conjuncts) {
      const json& c = *conjunct;
      std::string cls = Str(c, "class");
      std::string type = Str(c, "type");
      size_t ref_index = 0;
      std::string column;
      RawPredicate predicate;
      if (cls == "COMPARISON") {
        auto op = ComparisonOp(type);
        if (!op) continue;
        if (ResolveColumn(Member(c, "left"), refs, &ref_index, &column) &&
            IsFoldable(Member(c, "right"))) {
          predicate = {*op, {&Member(c, "right")}};
        } else if (ResolveColumn(Member(c, "right"), refs, &ref_index, &column) &&
                   IsFoldable(Member(c, "left"))) {
          predicate = {FlipOp(*op), {&Member(c, "left")}};
        } else {
          continue;
        }
      } else if (cls == "BETWEEN") {
        if (!ResolveColumn(Member(c, "input"), refs, &ref_index, &column) ||
            !IsFoldable(Member(c, "lower")) || !IsFoldable(Member(c, "upper"))) {
          continue;
        }
        predicate = {"between", {&Member(c, "lower"), &Member(c, "upper")}};
      } else if (cls == "OPERATOR" && type == "COMPARE_IN") {
        const json& children = Member(c, "children");
        if (children.size() < 2 || !ResolveColumn(children[0], refs, &ref_index, &column)) {
          continue;
        }
        predicate.op = "in";
        bool all_foldable = true;
        for (size_t i = 1; i < children.size(); ++i) {
          if (!IsFoldable(children[i])) all_foldable = false;
          predicate.operands.push_back(&children[i]);
        }
        if (!all_foldable) continue;
      } else {
        continue;
      }
      references_[ref_index].predicates[column].push_back(std::move(predicate));
    }
  }

  std::string default_database_;
  const SchemaLookup& lookup_;
  std::set<std::string> cte_names_;
  std::vector<Reference> references_;
  std::map<const json*, size_t> index_of_;
};

// Evaluates constant expressions with DuckDB, converting them into a column's
// statistics domain.
class ConstantEvaluator {
 public:
  explicit ConstantEvaluator(duck::Connection& connection) : connection_(connection) {}

  // Every value `expr` can take in comparisons with a column of `type`: the
  // value cast to the column type and cast to the domain's widest type.
  // Returns nothing when DuckDB cannot evaluate it.
  std::vector<StatValue> Evaluate(const json& expr, const std::string& type, StatDomain domain) {
    auto sql = ExpressionSql(expr);
    if (!sql.ok()) return {};
    std::vector<std::string> conversions;
    switch (domain) {
      case StatDomain::kTemporalNs:
        conversions = {fmt::format("epoch_ns(CAST(x AS {}))", type),
                       "epoch_ns(CAST(x AS TIMESTAMP_NS))"};
        break;
      case StatDomain::kNumeric:
        conversions = {fmt::format("CAST(CAST(x AS {}) AS DOUBLE)", type), "CAST(x AS DOUBLE)"};
        break;
      case StatDomain::kString:
        conversions = {"CAST(x AS VARCHAR)"};
        break;
      case StatDomain::kNone:
        return {};
    }
    std::vector<StatValue> values;
    for (const std::string& conversion : conversions) {
      auto value = duck::QueryScalar(
          connection_,
          fmt::format("SELECT {} FROM ({}\n) AS __shardlake_constant(x)", conversion, *sql));
      if (!value.ok() || !value->has_value()) continue;
      const std::string& text = **value;
      if (domain == StatDomain::kTemporalNs) {
        values.emplace_back(static_cast<int64_t>(std::stoll(text)));
      } else if (domain == StatDomain::kNumeric) {
        double d = std::strtod(text.c_str(), nullptr);
        if (std::isnan(d)) return {};  // NaN sorts above everything in DuckDB
        values.emplace_back(d);
      } else {
        values.emplace_back(text);
      }
    }
    return values;
  }

 private:
  // "SELECT <expr>" as SQL, via DuckDB's own deserializer.
  absl::StatusOr<std::string> ExpressionSql(const json& expr) {
    if (template_.is_null()) {
      ASSIGN_OR_RETURN(auto text,
                       duck::QueryScalar(connection_, "SELECT json_serialize_sql('SELECT 1')"));
      if (!text.has_value()) return absl::InternalError("json_serialize_sql returned NULL");
      template_ = json::parse(*text, nullptr, false);
      if (template_.is_discarded()) return absl::InternalError("bad AST template");
    }
    json statement = template_;
    statement["statements"][0]["node"]["select_list"][0] = expr;
    ASSIGN_OR_RETURN(auto prepared, connection_.Prepare("SELECT json_deserialize_sql($1::JSON)"));
    RETURN_IF_ERROR(prepared->BindString(1, statement.dump()));
    ASSIGN_OR_RETURN(auto result, prepared->Execute());
    ASSIGN_OR_RETURN(auto rows, result->FetchAllAsStrings());
    if (rows.empty() || !rows[0][0].has_value()) {
      return absl::InternalError("json_deserialize_sql returned nothing");
    }
    return *rows[0][0];
  }

  duck::Connection& connection_;
  json template_;
};

int CompareStat(const StatValue& a, const StatValue& b) {
  if (std::holds_alternative<std::string>(a) && std::holds_alternative<std::string>(b)) {
    int c = std::get<std::string>(a).compare(std::get<std::string>(b));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (std::holds_alternative<int64_t>(a) && std::holds_alternative<int64_t>(b)) {
    int64_t x = std::get<int64_t>(a), y = std::get<int64_t>(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  auto as_double = [](const StatValue& v) {
    if (std::holds_alternative<int64_t>(v)) return static_cast<double>(std::get<int64_t>(v));
    if (std::holds_alternative<double>(v)) return std::get<double>(v);
    return std::nan("");
  };
  double x = as_double(a), y = as_double(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

StatValue Widen(const StatValue& value, StatDomain domain, int64_t resolution_ns, bool up) {
  if (domain == StatDomain::kTemporalNs && std::holds_alternative<int64_t>(value)) {
    int64_t v = std::get<int64_t>(value);
    if (up) return v > INT64_MAX - resolution_ns ? INT64_MAX : v + resolution_ns;
    return v < INT64_MIN + resolution_ns ? INT64_MIN : v - resolution_ns;
  }
  if (domain == StatDomain::kNumeric && std::holds_alternative<double>(value)) {
    double v = std::get<double>(value);
    double slack = std::fabs(v) * kNumericRelativeSlack;
    return up ? v + slack : v - slack;
  }
  return value;
}

// The entry's statistic for `column` in `domain`, if it has a usable one.
std::optional<StatValue> EntryStat(const IndexEntry& entry, const TableSchema& schema,
                                   const std::string& column, StatDomain domain, bool want_max) {
  if (column == schema.time_column && (entry.min_time != 0 || entry.max_time != 0)) {
    return StatValue(want_max ? entry.max_time : entry.min_time);
  }
  const json& stats = want_max ? entry.max : entry.min;
  if (!stats.is_object() || !stats.contains(column)) return std::nullopt;
  const json& value = stats[column];
  switch (domain) {
    case StatDomain::kTemporalNs:
      if (value.is_number_integer()) return StatValue(value.get<int64_t>());
      return std::nullopt;
    case StatDomain::kNumeric:
      if (value.is_number()) return StatValue(value.get<double>());
      return std::nullopt;
    case StatDomain::kString:
      if (value.is_string()) return StatValue(value.get<std::string>());
      return std::nullopt;
    case StatDomain::kNone:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

namespace {

// The catalog time window of `needs` on one side: for each reference the
// tightest bound of its time-column constraints, then the loosest over all
// references (any reference open on that side leaves the window open).
std::optional<int64_t> TimeBound(const TableNeeds& needs, const TableSchema& schema, bool upper) {
  std::optional<int64_t> result;
  for (const auto& ref : needs.references) {
    std::optional<int64_t> bound;
    for (const auto& c : ref.constraints) {
      const std::optional<StatValue>& side = upper ? c.hi : c.lo;
      if (c.column != schema.time_column || !side || !std::holds_alternative<int64_t>(*side)) {
        continue;
      }
      int64_t v = std::get<int64_t>(*side);
      bound = !bound ? v : (upper ? std::min(*bound, v) : std::max(*bound, v));
    }
    if (!bound) return std::nullopt;
    result = !result ? *bound : (upper ? std::max(*result, *bound) : std::min(*result, *bound));
  }
  return result;
}

}  // namespace

std::optional<int64_t> TableNeeds::After(const TableSchema& schema) const {
  return TimeBound(*this, schema, /*upper=*/false);
}

std::optional<int64_t> TableNeeds::Before(const TableSchema& schema) const {
  return TimeBound(*this, schema, /*upper=*/true);
}

bool EntryMayMatch(const IndexEntry& entry, const TableSchema& schema, const TableNeeds& needs) {
  for (const auto& ref : needs.references) {
    bool may_match = true;
    for (const auto& c : ref.constraints) {
      if (c.hi) {
        auto file_min = EntryStat(entry, schema, c.column, c.domain, /*want_max=*/false);
        int order = file_min ? CompareStat(*file_min, *c.hi) : -1;
        if (order > 0 || (order == 0 && c.hi_strict)) may_match = false;
      }
      if (c.lo) {
        auto file_max = EntryStat(entry, schema, c.column, c.domain, /*want_max=*/true);
        int order = file_max ? CompareStat(*file_max, *c.lo) : 1;
        if (order < 0 || (order == 0 && c.lo_strict)) may_match = false;
      }
      if (!may_match) break;
    }
    if (may_match) return true;
  }
  return false;
}

absl::StatusOr<QueryAnalysis> AnalyzeQuery(duck::Connection& connection, const std::string& sql,
                                           const std::string& default_database,
                                           const SchemaLookup& lookup) {
  ASSIGN_OR_RETURN(auto prepared, connection.Prepare("SELECT json_serialize_sql($1::VARCHAR)"));
  RETURN_IF_ERROR(prepared->BindString(1, sql));
  ASSIGN_OR_RETURN(auto result, prepared->Execute());
  ASSIGN_OR_RETURN(auto rows, result->FetchAllAsStrings());
  if (rows.empty() || !rows[0][0].has_value()) {
    return absl::InternalError("json_serialize_sql returned nothing");
  }
  json ast = json::parse(*rows[0][0], nullptr, /*allow_exceptions=*/false);
  if (ast.is_discarded()) return absl::InternalError("json_serialize_sql returned invalid JSON");
  if (Flag(ast, "error", false)) {
    std::string message = Str(ast, "error_message");
    if (message.empty()) message = "cannot parse the query";
    if (Str(ast, "error_type") == "parser") {
      // Re-run through the parser proper to get DuckDB's message with position.
      auto parse = connection.Prepare(sql);
      if (!parse.ok()) return parse.status();
    }
    return absl::InvalidArgumentError(message);
  }

  Analyzer analyzer(default_database, lookup);
  analyzer.Run(ast);
  ConstantEvaluator evaluator(connection);

  QueryAnalysis analysis;
  std::set<std::string> unknown;
  analysis.ast = ast;
  for (Reference& ref : analyzer.references()) {
    analysis.references.push_back({ref.key, {}});
    if (ref.resolved == nullptr) {
      std::string schema = Lower(ref.schema);
      bool system = schema == "information_schema" || schema == "pg_catalog" ||
                    (ref.schema.empty() && analyzer.cte_names().count(Lower(ref.table)) != 0);
      if (!system) unknown.insert(ref.schema.empty() ? ref.table : ref.schema + "." + ref.table);
      continue;
    }
    TableNeeds& needs = analysis.tables[ref.key];
    needs.database = ref.resolved->database;
    needs.table = ref.resolved->table;
    ReferenceConstraints constraints;
    for (const auto& [column, predicates] : ref.predicates) {
      int index = ref.resolved->ColumnIndex(column);
      if (index < 0) continue;
      const std::string& type = ref.resolved->columns[index].type;
      int64_t resolution = 0;
      StatDomain domain = DomainOfType(type, &resolution);
      if (domain == StatDomain::kNone) continue;
      for (const RawPredicate& predicate : predicates) {
        if (domain == StatDomain::kString) {
          bool literal = std::all_of(predicate.operands.begin(), predicate.operands.end(),
                                     [](const json* node) { return IsVarcharConstant(*node); });
          if (!literal) continue;
        }
        // Envelope of every operand value.
        std::vector<std::vector<StatValue>> operand_values;
        bool ok = true;
        for (const json* operand : predicate.operands) {
          auto values = evaluator.Evaluate(*operand, type, domain);
          if (values.empty()) {
            ok = false;
            break;
          }
          operand_values.push_back(std::move(values));
        }
        if (!ok) continue;
        auto min_of = [](const std::vector<StatValue>& values) {
          StatValue best = values[0];
          for (const auto& v : values) {
            if (CompareStat(v, best) < 0) best = v;
          }
          return best;
        };
        auto max_of = [](const std::vector<StatValue>& values) {
          StatValue best = values[0];
          for (const auto& v : values) {
            if (CompareStat(v, best) > 0) best = v;
          }
          return best;
        };
        // A constant is exact when every way DuckDB may cast it gives the same
        // value: then bounds need no widening, and strict comparisons stay
        // strict where the statistics themselves are exact (temporal values
        // as int64 ns, strings). Numbers stay inclusive: their statistics are
        // doubles, rounded from the column's values.
        auto exact = [](const std::vector<StatValue>& values) {
          return std::all_of(values.begin(), values.end(),
                             [&](const StatValue& v) { return CompareStat(v, values[0]) == 0; });
        };
        bool strict_allowed = domain == StatDomain::kTemporalNs || domain == StatDomain::kString;
        ColumnConstraint constraint;
        constraint.column = column;
        constraint.domain = domain;
        const std::string& op = predicate.op;
        bool lo_exact = true;
        bool hi_exact = true;
        if (op == "=" || op == ">" || op == ">=") {
          constraint.lo = min_of(operand_values[0]);
          lo_exact = exact(operand_values[0]);
          constraint.lo_strict = op == ">" && lo_exact && strict_allowed;
        }
        if (op == "=" || op == "<" || op == "<=") {
          constraint.hi = max_of(operand_values[0]);
          hi_exact = exact(operand_values[0]);
          constraint.hi_strict = op == "<" && hi_exact && strict_allowed;
        }
        if (op == "between") {
          constraint.lo = min_of(operand_values[0]);
          constraint.hi = max_of(operand_values[1]);
          lo_exact = exact(operand_values[0]);
          hi_exact = exact(operand_values[1]);
        }
        if (op == "in") {
          std::vector<StatValue> all;
          for (const auto& values : operand_values) {
            all.insert(all.end(), values.begin(), values.end());
            lo_exact = lo_exact && exact(values);
          }
          hi_exact = lo_exact;
          constraint.lo = min_of(all);
          constraint.hi = max_of(all);
        }
        if (constraint.lo && !lo_exact) {
          constraint.lo = Widen(*constraint.lo, domain, resolution, false);
        }
        if (constraint.hi && !hi_exact) {
          constraint.hi = Widen(*constraint.hi, domain, resolution, true);
        }
        constraints.constraints.push_back(std::move(constraint));
      }
    }
    analysis.references.back().constraints = constraints;
    needs.references.push_back(std::move(constraints));
  }
  analysis.unknown_tables.assign(unknown.begin(), unknown.end());
  return analysis;
}

namespace {

// Visits BASE_TABLE nodes in the same order as Analyzer::CollectReferences.
void VisitBaseTables(json& node, const std::function<void(json&)>& visit) {
  if (node.is_object()) {
    if (Str(node, "type") == "BASE_TABLE" && node.contains("table_name")) {
      visit(node);
      return;
    }
    for (auto& [key, value] : node.items()) VisitBaseTables(value, visit);
  } else if (node.is_array()) {
    for (auto& item : node) VisitBaseTables(item, visit);
  }
}

bool HasLongColumnReference(const json& node) {
  if (node.is_object()) {
    if (Str(node, "class") == "COLUMN_REF" && Member(node, "column_names").is_array() &&
        Member(node, "column_names").size() > 2) {
      return true;
    }
    for (const auto& [key, value] : node.items()) {
      if (HasLongColumnReference(value)) return true;
    }
  } else if (node.is_array()) {
    for (const auto& item : node) {
      if (HasLongColumnReference(item)) return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> RewriteReferences(duck::Connection& connection,
                                              const QueryAnalysis& analysis,
                                              const std::vector<std::string>& view_names) {
  if (HasLongColumnReference(analysis.ast)) {
    return absl::FailedPreconditionError("query uses schema.table.column references");
  }
  json ast = analysis.ast;
  size_t index = 0;
  bool rewritten = false;
  VisitBaseTables(ast, [&](json& node) {
    if (index < view_names.size() && !view_names[index].empty()) {
      std::string visible = Str(node, "alias");
      if (visible.empty()) visible = Str(node, "table_name");
      node["alias"] = visible;
      node["catalog_name"] = "";
      node["schema_name"] = "";
      node["table_name"] = view_names[index];
      rewritten = true;
    }
    ++index;
  });
  if (index != view_names.size()) {
    return absl::InternalError("reference count changed while rewriting");
  }
  if (!rewritten) return absl::FailedPreconditionError("nothing to rewrite");
  ASSIGN_OR_RETURN(auto prepared, connection.Prepare("SELECT json_deserialize_sql($1::JSON)"));
  RETURN_IF_ERROR(prepared->BindString(1, ast.dump()));
  ASSIGN_OR_RETURN(auto result, prepared->Execute());
  ASSIGN_OR_RETURN(auto rows, result->FetchAllAsStrings());
  if (rows.empty() || !rows[0][0].has_value()) {
    return absl::InternalError("json_deserialize_sql returned nothing");
  }
  return *rows[0][0];
}

}  // namespace shardlake
