#include "query/planner_sources.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <functional>
#include <numeric>
#include <optional>
#include <utility>

#include "fmt/format.h"
#include "fmt/ranges.h"

namespace shardlake::planner {
namespace {

// One table (or derived table) instance in some FROM clause of the query.
struct Relation {
  int id = 0;
  int query = 0;                      // the SELECT whose FROM clause holds it
  std::string ref_name;               // alias, or the table's own name
  bool derived = false;               // a subquery in FROM
  bool sliced = false;                // reads a sliced table (itself or inside)
  bool nullable = false;              // on the NULL-supplying side of an outer join
  std::optional<TableLayout> layout;  // base tables only
  bool columns_known = false;
  std::set<std::string> columns;
  // Derived tables: output column -> base relation whose shard key it is.
  std::map<std::string, int> key_columns;
};

struct Scope {
  int query = 0;
  const Scope* parent = nullptr;
  std::vector<int> relations;
};

// A nested SELECT that aggregates (or de-duplicates) rows of sliced tables.
struct AggregateCheck {
  int query = 0;
  bool grouped_by_key = false;
  std::vector<int> sliced_relations;
};

class Analyzer {
 public:
  Analyzer(const TableLayoutLookup& lookup, const std::set<std::string>& aggregates)
      : lookup_(lookup), aggregates_(aggregates) {}

  SourceAnalysis Run(const Json& top) {
    SourceAnalysis analysis;
    top_node_ = top;
    const Scope* top_scope = AnalyzeQuery(top, nullptr, /*top=*/true);
    if (!failure_.empty()) {
      analysis.reason = failure_;
      return analysis;
    }
    Finish(*top_scope, analysis);
    return analysis;
  }

 private:
  void Fail(std::string reason) {
    if (failure_.empty()) failure_ = std::move(reason);
  }

  int Find(int id) {
    while (parent_[id] != id) id = parent_[id] = parent_[parent_[id]];
    return id;
  }
  void Union(int a, int b) { parent_[Find(a)] = Find(b); }

  int NewQuery(int parent_query) {
    int id = static_cast<int>(query_parent_.size());
    query_parent_.push_back(parent_query);
    return id;
  }
  bool IsWithin(int query, int ancestor) const {
    for (int q = query; q >= 0; q = query_parent_[q]) {
      if (q == ancestor) return true;
    }
    return false;
  }

  Relation& NewRelation(int query) {
    Relation& relation = relations_.emplace_back();
    relation.id = static_cast<int>(relations_.size()) - 1;
    relation.query = query;
    parent_.push_back(relation.id);
    return relation;
  }

  // The base relation whose shard key `column` of `relation` is, if any.
  std::optional<int> KeyRelation(const Relation& relation, const std::string& column) const {
    if (relation.derived) {
      auto it = relation.key_columns.find(column);
      if (it != relation.key_columns.end()) return it->second;
      return std::nullopt;
    }
    if (relation.sliced && relation.layout->placement == Placement::kSharded &&
        relation.layout->shard_key == column) {
      return relation.id;
    }
    return std::nullopt;
  }

  // Which relation a column reference binds to (see the header for the
  // rule on unqualified names). nullopt when unsure.
  std::optional<std::pair<int, std::string>> Resolve(const Json& ref, const Scope& scope) const {
    const Json& names = ref["column_names"];
    if (!names.is_array() || names.empty() || names.size() > 4) return std::nullopt;
    std::string column = names.back().get<std::string>();
    if (names.size() >= 2) {
      std::string qualifier = names[names.size() - 2].get<std::string>();
      for (const Scope* s = &scope; s != nullptr; s = s->parent) {
        for (int id : s->relations) {
          if (relations_[id].ref_name == qualifier) return std::make_pair(id, column);
        }
      }
      return std::nullopt;
    }
    for (const Scope* s = &scope; s != nullptr; s = s->parent) {
      std::vector<int> candidates;
      bool all_known = true;
      for (int id : s->relations) {
        const Relation& relation = relations_[id];
        if ((relation.columns_known && relation.columns.count(column) > 0) ||
            KeyRelation(relation, column).has_value()) {
          candidates.push_back(id);
        } else if (!relation.columns_known) {
          all_known = false;
        }
      }
      if (candidates.size() == 1) return std::make_pair(candidates[0], column);
      if (candidates.size() > 1 || !all_known) return std::nullopt;
    }
    return std::nullopt;
  }

  // Decides whether an equality between columns of relations `a` and `b`
  // restricts the rows that meet (so it may co-locate them).
  using LinkRule = std::function<bool(int a, int b)>;

  // Links the two sides of `left = right` when both are shard keys.
  void LinkEquality(const Json& left, const Json& right, const Scope& left_scope,
                    const Scope& right_scope, const LinkRule& rule) {
    if (!IsClass(left, "COLUMN_REF") || !IsClass(right, "COLUMN_REF")) return;
    auto a = Resolve(left, left_scope);
    auto b = Resolve(right, right_scope);
    if (!a || !b || !rule(a->first, b->first)) return;
    auto key_a = KeyRelation(relations_[a->first], a->second);
    auto key_b = KeyRelation(relations_[b->first], b->second);
    if (key_a && key_b) Union(*key_a, *key_b);
  }

  // Links the shard-key equalities among the AND-ed conjuncts of `condition`.
  // A WHERE clause's equality counts only if it involves a relation of its
  // own query: an equality of two outer columns inside a subquery (say under
  // NOT EXISTS) does not restrict which outer rows meet.
  void LinkConjuncts(const Json& condition, const Scope& scope, const LinkRule& rule) {
    if (!IsExpression(condition)) return;
    if (IsClass(condition, "CONJUNCTION") && condition["type"] == "CONJUNCTION_AND") {
      for (const Json& child : condition["children"]) LinkConjuncts(child, scope, rule);
      return;
    }
    if (IsClass(condition, "COMPARISON") && condition["type"] == "COMPARE_EQUAL") {
      LinkEquality(condition["left"], condition["right"], scope, scope, rule);
    }
    // x IN (SELECT y ...) as a conjunct is a semi-join on x = y. (Not under
    // NOT: NOT IN also depends on NULLs anywhere in the subquery's result.)
    if (IsClass(condition, "SUBQUERY") && condition.value("subquery_type", "") == "ANY" &&
        condition.value("comparison_type", "") == "COMPARE_EQUAL") {
      auto inner = subquery_scopes_.find(&condition["subquery"]["node"]);
      const Json& select_list = condition["subquery"]["node"]["select_list"];
      if (inner != subquery_scopes_.end() && select_list.is_array() && select_list.size() == 1) {
        LinkEquality(condition["child"], select_list[0], scope, *inner->second,
                     [](int, int) { return true; });
      }
    }
  }

  // Analyzes every subquery inside `expression` (evaluated in `scope`).
  void AnalyzeSubqueries(const Json& expression, const Scope& scope) {
    if (!IsExpression(expression)) return;
    Walk(expression, [&](const Json& node) {
      if (IsClass(node, "WINDOW")) Fail("window function");
      if (IsClass(node, "SUBQUERY")) {
        const Scope* inner = AnalyzeQuery(node["subquery"]["node"], &scope, false);
        if (inner != nullptr) subquery_scopes_[&node["subquery"]["node"]] = inner;
      }
      return true;
    });
  }

  // Registers the relations of a FROM-clause item in `scope`; returns their ids.
  std::vector<int> AnalyzeTableRef(const Json& ref, Scope& scope) {
    std::vector<int> ids;
    if (!ref.is_object()) return ids;
    std::string type = ref.value("type", "");
    if (ref.contains("sample") && !ref["sample"].is_null()) Fail("TABLESAMPLE");
    if (type == "EMPTY") return ids;
    if (type == "BASE_TABLE") {
      std::string name = ref.value("table_name", "");
      std::string schema = ref.value("schema_name", "");
      std::string catalog = ref.value("catalog_name", "");
      std::string written = schema.empty() ? name : schema + "." + name;
      if (!catalog.empty()) written = catalog + "." + written;
      if (ref.contains("at_clause") && !ref["at_clause"].is_null()) Fail("time travel (AT clause)");
      std::optional<TableLayout> layout = lookup_(written);
      if (!layout) {
        Fail(fmt::format("{} is not a lake table", written));
        return ids;
      }
      Relation& relation = NewRelation(scope.query);
      std::string alias = ref.value("alias", "");
      relation.ref_name = alias.empty() ? name : alias;
      relation.sliced = layout->placement != Placement::kReplicated;
      relation.columns_known = !layout->columns.empty();
      relation.columns.insert(layout->columns.begin(), layout->columns.end());
      if (!ref["column_name_alias"].empty()) Fail("column aliases on a table");
      relation.layout = std::move(layout);
      scope.relations.push_back(relation.id);
      ids.push_back(relation.id);
      return ids;
    }
    if (type == "SUBQUERY") {
      const Scope* inner = AnalyzeQuery(ref["subquery"]["node"], scope.parent, false);
      if (inner == nullptr) return ids;
      Relation& relation = NewRelation(scope.query);
      relation.derived = true;
      relation.ref_name = ref.value("alias", "");
      relation.sliced = std::any_of(inner->relations.begin(), inner->relations.end(),
                                    [&](int id) { return relations_[id].sliced; });
      const Json& select_list = ref["subquery"]["node"]["select_list"];
      const Json& renames = ref["column_name_alias"];
      relation.columns_known = true;
      for (size_t i = 0; i < select_list.size(); ++i) {
        const Json& item = select_list[i];
        std::string output = item.value("alias", "");
        if (IsClass(item, "COLUMN_REF") && output.empty()) {
          output = item["column_names"].back().get<std::string>();
        }
        if (i < renames.size()) output = renames[i].get<std::string>();
        if (IsClass(item, "STAR") || output.empty()) {
          relation.columns_known = false;
          continue;
        }
        relation.columns.insert(output);
        if (IsClass(item, "COLUMN_REF")) {
          auto bound = Resolve(item, *inner);
          if (bound) {
            auto key = KeyRelation(relations_[bound->first], bound->second);
            if (key) relation.key_columns[output] = *key;
          }
        }
      }
      int id = relation.id;
      scope.relations.push_back(id);
      ids.push_back(id);
      return ids;
    }
    if (type == "JOIN") {
      std::vector<int> left = AnalyzeTableRef(ref["left"], scope);
      std::vector<int> right = AnalyzeTableRef(ref["right"], scope);
      auto has_sliced = [&](const std::vector<int>& side) {
        return std::any_of(side.begin(), side.end(), [&](int id) { return relations_[id].sliced; });
      };
      std::string ref_type = ref.value("ref_type", "");
      if (ref_type != "REGULAR" && ref_type != "CROSS" && ref_type != "NATURAL") {
        Fail(fmt::format("{} join", ref_type));
      }
      std::string join_type = ref.value("join_type", "");
      bool left_sliced = has_sliced(left);
      bool right_sliced = has_sliced(right);
      if ((join_type == "LEFT" || join_type == "SEMI" || join_type == "ANTI") && right_sliced &&
          !left_sliced) {
        Fail(
            "outer join whose preserved side is a broadcast table (the sliced side would be "
            "incomplete in each slice)");
      } else if (join_type == "RIGHT" && left_sliced && !right_sliced) {
        Fail(
            "outer join whose preserved side is a broadcast table (the sliced side would be "
            "incomplete in each slice)");
      } else if (join_type == "OUTER" && left_sliced != right_sliced) {
        Fail("full outer join of a sliced and a broadcast table");
      } else if (join_type != "INNER" && join_type != "LEFT" && join_type != "RIGHT" &&
                 join_type != "OUTER" && join_type != "SEMI" && join_type != "ANTI") {
        Fail(fmt::format("{} join", join_type));
      }
      AnalyzeSubqueries(ref["condition"], scope);
      auto on_side = [](const std::vector<int>& side, int id) {
        return std::find(side.begin(), side.end(), id) != side.end();
      };
      if (join_type == "INNER") {
        LinkConjuncts(ref["condition"], scope, [](int, int) { return true; });
      } else {
        // An outer (or semi/anti) join's ON restricts only which rows of one
        // side match rows of the other: equalities within one side do not.
        LinkConjuncts(ref["condition"], scope, [&](int a, int b) {
          return (on_side(left, a) && on_side(right, b)) || (on_side(left, b) && on_side(right, a));
        });
      }
      for (const Json& column : ref["using_columns"]) {
        // USING (c): c of the left side equals c of the right side.
        std::string name = column.get<std::string>();
        std::optional<int> left_key;
        std::optional<int> right_key;
        for (int id : left) {
          if (auto key = KeyRelation(relations_[id], name)) left_key = key;
        }
        for (int id : right) {
          if (auto key = KeyRelation(relations_[id], name)) right_key = key;
        }
        if (left_key && right_key) Union(*left_key, *right_key);
      }
      auto mark_nullable = [&](const std::vector<int>& side) {
        for (int id : side) relations_[id].nullable = true;
      };
      if (join_type == "LEFT" || join_type == "OUTER" || join_type == "SEMI" ||
          join_type == "ANTI") {
        mark_nullable(right);
      }
      if (join_type == "RIGHT" || join_type == "OUTER") mark_nullable(left);
      ids = left;
      ids.insert(ids.end(), right.begin(), right.end());
      return ids;
    }
    Fail(fmt::format("{} in FROM", type == "TABLE_FUNCTION" ? "table function" : type));
    return ids;
  }

  // Returns the query's scope (owned by the analyzer), or null on failure.
  const Scope* AnalyzeQuery(const Json& node, const Scope* parent, bool top) {
    if (!node.is_object()) {
      Fail("unexpected query tree");
      return nullptr;
    }
    if (node.value("type", "") != "SELECT_NODE") {
      Fail("set operation (UNION / INTERSECT / EXCEPT)");
      return nullptr;
    }
    if (!node["cte_map"]["map"].empty()) {
      Fail("WITH clause (common table expression)");
      return nullptr;
    }
    if (!node["qualify"].is_null()) Fail("QUALIFY");
    if (!node["sample"].is_null()) Fail("USING SAMPLE");
    int query = NewQuery(parent == nullptr ? -1 : parent->query);
    Scope& scope = scopes_.emplace_back();
    scope.query = query;
    scope.parent = parent;
    AnalyzeTableRef(node["from_table"], scope);
    AnalyzeSubqueries(node["where_clause"], scope);
    LinkConjuncts(node["where_clause"], scope, [&](int a, int b) {
      return relations_[a].query == query || relations_[b].query == query;
    });
    for (const Json& item : node["select_list"]) AnalyzeSubqueries(item, scope);
    for (const Json& item : node["group_expressions"]) AnalyzeSubqueries(item, scope);
    AnalyzeSubqueries(node["having"], scope);
    for (const Json& modifier : node["modifiers"]) {
      if (modifier.value("type", "") == "ORDER_MODIFIER") {
        for (const Json& order : modifier["orders"]) AnalyzeSubqueries(order["expression"], scope);
      } else if (modifier.value("type", "") != "DISTINCT_MODIFIER") {
        for (const char* key : {"limit", "offset"}) {
          if (modifier.contains(key)) AnalyzeSubqueries(modifier[key], scope);
        }
      }
    }
    std::vector<int> sliced;
    for (int id : scope.relations) {
      if (relations_[id].sliced) sliced.push_back(id);
    }
    if (top) {
      if (sliced.empty() && failure_.empty()) {
        bool any_sliced = std::any_of(relations_.begin(), relations_.end(),
                                      [](const Relation& r) { return r.sliced; });
        Fail(any_sliced ? "the query's FROM clause reads no sliced table (sliced tables appear "
                          "only in subqueries)"
                        : "no sliced table (only broadcast tables): the server runs it");
      }
      return &scope;
    }
    if (sliced.empty()) CheckRepeatable(node);
    if (!sliced.empty()) {
      for (const Json& modifier : node["modifiers"]) {
        std::string type = modifier.value("type", "");
        if (type == "DISTINCT_MODIFIER" || type == "LIMIT_MODIFIER" ||
            type == "LIMIT_PERCENT_MODIFIER") {
          Fail(fmt::format("{} in a subquery over a sliced table",
                           type == "DISTINCT_MODIFIER" ? "DISTINCT" : "LIMIT"));
        }
      }
      bool aggregates = !node["group_expressions"].empty() || !node["having"].is_null();
      for (const Json& item : node["select_list"]) {
        aggregates = aggregates || ContainsAggregate(item, aggregates_);
      }
      if (aggregates) {
        AggregateCheck check;
        check.query = query;
        check.sliced_relations = sliced;
        for (const Json& group : node["group_expressions"]) {
          if (!IsClass(group, "COLUMN_REF")) continue;
          auto bound = Resolve(group, scope);
          if (bound && KeyRelation(relations_[bound->first], bound->second)) {
            check.grouped_by_key = true;
          }
        }
        aggregate_checks_.push_back(std::move(check));
      }
    }
    return &scope;
  }

  // A subquery over broadcast tables only is evaluated by every task on its
  // own: it must give every task the same rows. A LIMIT without ORDER BY, or
  // first() / any_value(), may keep a different row in each.
  void CheckRepeatable(const Json& node) {
    bool limited = false;
    bool ordered = false;
    for (const Json& modifier : node["modifiers"]) {
      std::string type = modifier.value("type", "");
      limited = limited || type == "LIMIT_MODIFIER" || type == "LIMIT_PERCENT_MODIFIER";
      ordered = ordered || type == "ORDER_MODIFIER";
    }
    if (limited && !ordered) {
      Fail("LIMIT without ORDER BY in a subquery (each worker could keep different rows)");
    }
    static const std::set<std::string> kArbitrary = {"first", "last", "any_value", "arbitrary"};
    auto check = [&](const Json& expression) {
      if (!IsExpression(expression)) return;
      Walk(expression, [&](const Json& call) {
        if (!IsClass(call, "FUNCTION")) return true;
        std::string name = LowerCase(call.value("function_name", ""));
        if (kArbitrary.count(name) > 0) {
          Fail(fmt::format("{}() in a subquery (each worker could pick a different row)", name));
        }
        return true;
      });
    };
    for (const Json& item : node["select_list"]) check(item);
    check(node["having"]);
  }

  void Finish(const Scope& top, SourceAnalysis& analysis) {
    std::vector<const Relation*> sliced;
    std::set<std::string> sliced_names;
    std::set<std::string> whole_names;
    for (const Relation& relation : relations_) {
      if (relation.derived) continue;
      if (relation.sliced) {
        sliced.push_back(&relation);
        sliced_names.insert(relation.layout->name);
      } else {
        whole_names.insert(relation.layout->name);
      }
    }
    auto label = [](const Relation& r) {
      const std::string& name = r.layout->name;
      std::string bare =
          name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
      return r.ref_name == name || r.ref_name == bare || r.ref_name.empty()
                 ? r.layout->name
                 : fmt::format("{} ({})", r.layout->name, r.ref_name);
    };
    for (const Relation* relation : sliced) {
      if (relation->layout->placement == Placement::kPartitioned && sliced.size() > 1) {
        const Relation* other = sliced[0] == relation ? sliced[1] : sliced[0];
        analysis.reason = fmt::format(
            "join of {} and {}: {} is partitioned (rows in any file), so only a table sharded "
            "on the join key could be co-located with it",
            label(*relation), label(*other), relation->layout->name);
        return;
      }
    }
    const Relation* first = sliced.empty() ? nullptr : sliced[0];
    for (const Relation* relation : sliced) {
      if (relation->layout->placement != Placement::kSharded) continue;
      if (relation->layout->colocation_group != first->layout->colocation_group ||
          relation->layout->bucket_count != first->layout->bucket_count) {
        analysis.reason = fmt::format(
            "join of {} and {}: not in one co-location group with equal bucket counts "
            "({} / {} buckets vs {} / {} buckets)",
            label(*first), label(*relation), first->layout->colocation_group,
            first->layout->bucket_count, relation->layout->colocation_group,
            relation->layout->bucket_count);
        return;
      }
      if (Find(relation->id) != Find(first->id)) {
        if (relation->query != first->query) {
          analysis.reason = fmt::format(
              "subquery over {} is not correlated with {} on their shard keys ({} = {}), so "
              "the rows it reads may be in other buckets",
              label(*relation), label(*first), relation->layout->shard_key,
              first->layout->shard_key);
          return;
        }
        analysis.reason = fmt::format(
            "join of {} and {} is not on their shard keys ({} = {}), so matching rows may be "
            "in different buckets",
            label(*first), label(*relation), first->layout->shard_key, relation->layout->shard_key);
        return;
      }
    }
    for (const AggregateCheck& check : aggregate_checks_) {
      if (check.grouped_by_key) continue;
      bool correlated = false;
      for (const Relation& relation : relations_) {
        if (!relation.sliced || relation.derived || IsWithin(relation.query, check.query)) continue;
        if (Find(relation.id) == Find(check.sliced_relations[0])) correlated = true;
      }
      bool inner_linked = true;
      for (int id : check.sliced_relations) {
        if (relations_[id].derived) inner_linked = false;
      }
      if (!correlated || !inner_linked) {
        analysis.reason =
            "a subquery aggregates a sliced table over more than one bucket (neither grouped by "
            "a shard key nor correlated on one)";
        return;
      }
    }
    analysis.ok = true;
    analysis.sliced_tables.assign(sliced_names.begin(), sliced_names.end());
    analysis.whole_tables.assign(whole_names.begin(), whole_names.end());
    analysis.slice_by_bucket = first != nullptr && first->layout->placement == Placement::kSharded;
    if (sliced.size() > 1) {
      std::vector<std::string> labels;
      for (const Relation* relation : sliced) {
        labels.push_back(fmt::format("{}.{}", label(*relation), relation->layout->shard_key));
      }
      analysis.notes.push_back(fmt::format(
          "co-located join: {} are joined on equal shard keys (group {}, {} buckets)",
          fmt::join(labels, ", "), first->layout->colocation_group, first->layout->bucket_count));
    }
    if (!whole_names.empty()) {
      analysis.notes.push_back(
          fmt::format("broadcast (read whole by every task): {}", fmt::join(whole_names, ", ")));
    }
    analysis.notes.push_back(fmt::format("sliced: {} ({})", fmt::join(sliced_names, ", "),
                                         analysis.slice_by_bucket ? "by bucket" : "by file"));
    for (const Json& group : top_node_["group_expressions"]) {
      if (!IsClass(group, "COLUMN_REF")) continue;
      auto bound = Resolve(group, top);
      if (!bound) continue;
      auto key = KeyRelation(relations_[bound->first], bound->second);
      // A NULL-supplied key (outer join) puts unmatched rows of every slice
      // into one NULL group, which would then span buckets.
      if (key && relations_[*key].layout->placement == Placement::kSharded &&
          !relations_[*key].nullable && !relations_[bound->first].nullable) {
        analysis.grouping_shard_key = group["column_names"].back().get<std::string>();
      }
    }
    analysis.top_level_columns_known = true;
    for (int id : top.relations) {
      const Relation& relation = relations_[id];
      if (!relation.columns_known) analysis.top_level_columns_known = false;
      analysis.top_level_columns.insert(relation.columns.begin(), relation.columns.end());
    }
  }

  const TableLayoutLookup& lookup_;
  const std::set<std::string>& aggregates_;
  Json top_node_;
  std::string failure_;
  std::deque<Relation> relations_;
  std::deque<Scope> scopes_;
  std::vector<int> parent_;        // union-find over relation ids
  std::vector<int> query_parent_;  // query id -> enclosing query id (-1: top)
  std::vector<AggregateCheck> aggregate_checks_;
  std::map<const Json*, const Scope*> subquery_scopes_;
};

}  // namespace

std::string LowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool ContainsAggregate(const Json& expression, const std::set<std::string>& aggregates) {
  if (!IsExpression(expression)) return false;
  bool found = false;
  Walk(expression, [&](const Json& node) {
    if (IsClass(node, "FUNCTION") &&
        aggregates.count(LowerCase(node.value("function_name", ""))) > 0) {
      found = true;
    }
    return !found;
  });
  return found;
}

SourceAnalysis AnalyzeSources(const Json& select_node, const TableLayoutLookup& lookup,
                              const std::set<std::string>& aggregates) {
  Analyzer analyzer(lookup, aggregates);
  return analyzer.Run(select_node);
}

}  // namespace shardlake::planner
