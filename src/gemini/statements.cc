#include "gemini/statements.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/sql_text.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake::gemini {
namespace {

std::string Q(const std::string& name) { return QuoteIdentifier(name); }

std::string TableRef(const Schema& schema, const Table& table) {
  return Q(schema.database) + "." + Q(table.name);
}

bool IsNumeric(ColumnType type) {
  return IsIntegerType(type) || type == ColumnType::kDouble || type == ColumnType::kDecimal;
}

// A column reference that compares text in byte order on every target.
std::string Ordered(const Column& column) {
  return column.type == ColumnType::kVarchar ? Q(column.name) + "{C}" : Q(column.name);
}

std::string OrderedLiteral(const Column& column, const std::string& literal) {
  return column.type == ColumnType::kVarchar ? literal + "{C}" : literal;
}

ValueKind SumKind(ColumnType type) {
  if (IsIntegerType(type)) return ValueKind::kInt;
  return type == ColumnType::kDecimal ? ValueKind::kDecimal : ValueKind::kDouble;
}

template <typename T>
const T& PickOne(Rng& rng, const std::vector<T>& items) {
  return items[rng.Below(items.size())];
}

}  // namespace

const char* StatementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kInsert:
      return "insert";
    case StatementKind::kInsertBatch:
      return "insert_batch";
    case StatementKind::kPointLookup:
      return "point_lookup";
    case StatementKind::kKeyRange:
      return "key_range";
    case StatementKind::kTimeRange:
      return "time_range";
    case StatementKind::kFilteredScan:
      return "filtered_scan";
    case StatementKind::kAggregate:
      return "aggregate";
    case StatementKind::kGroupBy:
      return "group_by";
    case StatementKind::kGroupByHaving:
      return "group_by_having";
    case StatementKind::kOrderByLimit:
      return "order_by_limit";
    case StatementKind::kGroupOrderByLimit:
      return "group_order_by_limit";
    case StatementKind::kCountDistinct:
      return "count_distinct";
  }
  return "?";
}

bool IsWrite(StatementKind kind) {
  return kind == StatementKind::kInsert || kind == StatementKind::kInsertBatch;
}

uint64_t PickIndex(Rng& rng, uint64_t n, KeyDistribution distribution) {
  if (n <= 1) return 0;
  switch (distribution) {
    case KeyDistribution::kUniform:
      return rng.Below(n);
    case KeyDistribution::kNormal: {
      double x = static_cast<double>(n) / 2 + rng.Normal() * static_cast<double>(n) / 6;
      return static_cast<uint64_t>(std::clamp(x, 0.0, static_cast<double>(n - 1)));
    }
    case KeyDistribution::kZipf: {
      double x = std::exp(rng.Unit() * std::log(static_cast<double>(n) + 1)) - 1;
      return std::min<uint64_t>(static_cast<uint64_t>(x), n - 1);
    }
  }
  return 0;
}

std::vector<std::vector<std::string>> BuildKeyPool(uint64_t schema_seed, const Table& table,
                                                   size_t table_index, size_t count,
                                                   DatasetSize size) {
  Rng rng = Rng::Derive(schema_seed, fmt::format("keys-{}", table_index));
  std::vector<std::vector<std::string>> pool;
  std::set<std::vector<std::string>> seen;
  const std::vector<size_t> key_columns = table.Role(ColumnRole::kPartitionKey);
  // Small key domains (one SMALLINT key) may hold fewer tuples than asked for:
  // stop after a bounded number of draws.
  for (size_t draws = 0; pool.size() < count && draws < count * 20 + 100; ++draws) {
    std::vector<std::string> tuple;
    for (size_t c : key_columns) {
      tuple.push_back(RandomLiteral(rng, table.columns[c].type, ColumnRole::kPartitionKey, size));
    }
    if (seen.insert(tuple).second) pool.push_back(std::move(tuple));
  }
  return pool;
}

std::string Statement::Sql(const std::string& exclusion) const {
  if (IsWrite(kind)) return head;
  std::string predicate = where;
  if (!exclusion.empty())
    predicate = predicate.empty() ? exclusion : predicate + " AND " + exclusion;
  return head + (predicate.empty() ? "" : " WHERE " + predicate) + tail;
}

nlohmann::json StatementRatios::ToJson() const {
  nlohmann::json read_json = nlohmann::json::object();
  double total = 0;
  for (const auto& [kind, weight] : reads) total += weight;
  for (const auto& [kind, weight] : reads) read_json[StatementKindName(kind)] = weight / total;
  return {{"mixed_write_share", write_share},
          {"insert", {{"single", 1 - batch_share}, {"batch", batch_share}}},
          {"read", read_json},
          {"update", 0},
          {"delete", 0}};
}

StatementGenerator::StatementGenerator(const Schema& schema,
                                       std::vector<std::vector<std::vector<std::string>>> keys,
                                       Rng rng, DatasetSize size, KeyDistribution distribution,
                                       int max_batch_rows, const StatementRatios& ratios,
                                       HistoryStore* history)
    : schema_(schema),
      keys_(std::move(keys)),
      rng_(rng),
      size_(size),
      distribution_(distribution),
      max_batch_rows_(max_batch_rows),
      ratios_(ratios),
      history_(history) {}

size_t StatementGenerator::PickTable() { return rng_.Below(schema_.tables.size()); }

Statement StatementGenerator::NextWrite() {
  Statement statement;
  statement.table = PickTable();
  const Table& table = schema_.tables[statement.table];
  const auto& pool = keys_[statement.table];
  bool batch = rng_.Chance(ratios_.batch_share);
  statement.kind = batch ? StatementKind::kInsertBatch : StatementKind::kInsert;
  int64_t rows = batch ? rng_.Range(2, max_batch_rows_) : 1;
  std::string columns;
  for (const Column& column : table.columns) {
    if (!columns.empty()) columns += ", ";
    columns += Q(column.name);
  }
  std::string tuples;
  for (int64_t r = 0; r < rows; ++r) {
    const auto& key = pool[PickIndex(rng_, pool.size(), distribution_)];
    WrittenRow row = RandomRow(rng_, table, key, size_);
    std::string tuple;
    for (const Literal& literal : row.literals) {
      if (!tuple.empty()) tuple += ", ";
      tuple += literal.value_or("NULL");
    }
    if (!tuples.empty()) tuples += ", ";
    tuples += "(" + tuple + ")";
    statement.rows.push_back(std::move(row));
  }
  statement.head =
      fmt::format("INSERT INTO {} ({}) VALUES {}", TableRef(schema_, table), columns, tuples);
  statement.values["rows"] = rows;
  return statement;
}

absl::StatusOr<WrittenRow> StatementGenerator::KnownRow(size_t table) {
  ASSIGN_OR_RETURN(std::optional<WrittenRow> row, history_->Sample(rng_, table));
  if (row.has_value()) return *row;
  const auto& pool = keys_[table];
  return RandomRow(rng_, schema_.tables[table], pool[rng_.Below(pool.size())], size_);
}

std::string StatementGenerator::SelectAll(const Table& table) const {
  std::string columns;
  for (const Column& column : table.columns) {
    if (!columns.empty()) columns += ", ";
    columns += Q(column.name);
  }
  return fmt::format("SELECT {} FROM {}", columns, TableRef(schema_, table));
}

void StatementGenerator::SetRowColumns(const Table& table, Statement* statement) const {
  for (const Column& column : table.columns) {
    statement->column_names.push_back(column.name);
    statement->kinds.push_back(KindOf(column.type));
  }
}

std::string StatementGenerator::TimeWindow(const WrittenRow& row, nlohmann::json* values) {
  int64_t before = rng_.Range(0, 1800) * 1'000'000;
  int64_t length = rng_.Range(1, 7200) * 1'000'000;
  int64_t from = row.ts_micros - before;
  std::string from_literal = TimestampLiteral(from);
  std::string to_literal = TimestampLiteral(from + length);
  (*values)["ts_from"] = from_literal;
  (*values)["ts_to"] = to_literal;
  return fmt::format("{} >= {} AND {} < {}", Q("ts"), from_literal, Q("ts"), to_literal);
}

std::string StatementGenerator::ValuePredicate(const Table& table, const WrittenRow& row,
                                               nlohmann::json* values) {
  const std::vector<size_t> value_columns = table.Role(ColumnRole::kValue);
  size_t c = PickOne(rng_, value_columns);
  const Column& column = table.columns[c];
  (*values)["column"] = column.name;
  switch (rng_.Below(4)) {
    case 0:
      return Q(column.name) + " IS NULL";
    case 1:
      return Q(column.name) + " IS NOT NULL";
    default:
      break;
  }
  // Compare with the value a written row has (or a fresh one when it is NULL).
  std::string literal = row.literals[c].has_value()
                            ? *row.literals[c]
                            : RandomLiteral(rng_, column.type, column.role, size_);
  (*values)["value"] = literal;
  if (column.type == ColumnType::kBoolean) {
    return fmt::format("{} = {}", Q(column.name), literal);
  }
  static constexpr const char* kOperators[] = {"=", "<", "<=", ">", ">=", "<>"};
  const char* op = kOperators[rng_.Below(6)];
  return fmt::format("{} {} {}", Ordered(column), op, OrderedLiteral(column, literal));
}

absl::StatusOr<Statement> StatementGenerator::NextRead() {
  Statement statement;
  double total = 0;
  for (const auto& [kind, weight] : ratios_.reads) total += weight;
  double draw = rng_.Unit() * total;
  statement.kind = ratios_.reads.begin()->first;
  for (const auto& [kind, weight] : ratios_.reads) {
    statement.kind = kind;
    if (draw < weight) break;
    draw -= weight;
  }
  statement.table = PickTable();
  const Table& table = schema_.tables[statement.table];
  ASSIGN_OR_RETURN(WrittenRow row, KnownRow(statement.table));
  nlohmann::json& values = statement.values;
  const std::vector<size_t> keys = table.Role(ColumnRole::kPartitionKey);
  const std::vector<size_t> clustering = table.Role(ColumnRole::kClusteringKey);
  const std::vector<size_t> value_columns = table.Role(ColumnRole::kValue);

  switch (statement.kind) {
    case StatementKind::kPointLookup: {
      statement.head = SelectAll(table);
      for (size_t c : keys) {
        if (!statement.where.empty()) statement.where += " AND ";
        statement.where += fmt::format("{} = {}", Q(table.columns[c].name), *row.literals[c]);
        values[table.columns[c].name] = *row.literals[c];
      }
      SetRowColumns(table, &statement);
      break;
    }
    case StatementKind::kKeyRange: {
      // A range on a partition or clustering key (not BOOLEAN: none are).
      std::vector<size_t> candidates = keys;
      candidates.insert(candidates.end(), clustering.begin(), clustering.end());
      size_t c = PickOne(rng_, candidates);
      ASSIGN_OR_RETURN(WrittenRow other, KnownRow(statement.table));
      const Column& column = table.columns[c];
      std::string a = OrderedLiteral(column, *row.literals[c]);
      std::string b = OrderedLiteral(column, *other.literals[c]);
      statement.head = SelectAll(table);
      statement.where =
          fmt::format("{0} BETWEEN LEAST({1}, {2}) AND GREATEST({1}, {2})", Ordered(column), a, b);
      values["column"] = column.name;
      values["bounds"] = {*row.literals[c], *other.literals[c]};
      SetRowColumns(table, &statement);
      break;
    }
    case StatementKind::kTimeRange: {
      statement.head = SelectAll(table);
      statement.where = TimeWindow(row, &values);
      if (rng_.Chance(0.3)) {
        size_t c = PickOne(rng_, keys);
        statement.where += fmt::format(" AND {} = {}", Q(table.columns[c].name), *row.literals[c]);
        values[table.columns[c].name] = *row.literals[c];
      }
      SetRowColumns(table, &statement);
      break;
    }
    case StatementKind::kFilteredScan: {
      statement.head = SelectAll(table);
      statement.where = ValuePredicate(table, row, &values);
      SetRowColumns(table, &statement);
      break;
    }
    case StatementKind::kAggregate:
    case StatementKind::kCountDistinct: {
      std::string select = "count(*)";
      statement.column_names.push_back("count(*)");
      statement.kinds.push_back(ValueKind::kInt);
      auto add = [&](const std::string& expression, const std::string& name, ValueKind kind) {
        select += ", " + expression;
        statement.column_names.push_back(name);
        statement.kinds.push_back(kind);
      };
      std::vector<size_t> columns = value_columns;
      columns.insert(columns.end(), clustering.begin(), clustering.end());
      size_t picks = static_cast<size_t>(rng_.Range(1, 3));
      for (size_t i = 0; i < picks; ++i) {
        const Column& column = table.columns[PickOne(rng_, columns)];
        const std::string name = Q(column.name);
        if (statement.kind == StatementKind::kCountDistinct) {
          add(fmt::format("count(DISTINCT {})", name), "count(DISTINCT " + column.name + ")",
              ValueKind::kInt);
          continue;
        }
        add(fmt::format("count({})", name), "count(" + column.name + ")", ValueKind::kInt);
        if (IsNumeric(column.type)) {
          add(fmt::format("sum({})", name), "sum(" + column.name + ")", SumKind(column.type));
          add(fmt::format("avg({})", name), "avg(" + column.name + ")", ValueKind::kDouble);
        }
        if (column.type != ColumnType::kBoolean) {
          add(fmt::format("min({})", Ordered(column)), "min(" + column.name + ")",
              KindOf(column.type));
          add(fmt::format("max({})", Ordered(column)), "max(" + column.name + ")",
              KindOf(column.type));
        }
      }
      statement.head = fmt::format("SELECT {} FROM {}", select, TableRef(schema_, table));
      switch (rng_.Below(3)) {
        case 0:
          statement.where = TimeWindow(row, &values);
          break;
        case 1:
          statement.where = ValuePredicate(table, row, &values);
          break;
        default:
          break;
      }
      break;
    }
    case StatementKind::kGroupBy:
    case StatementKind::kGroupByHaving:
    case StatementKind::kGroupOrderByLimit: {
      // Group on a key, or on a value column that is not a DOUBLE.
      std::vector<size_t> candidates = keys;
      candidates.insert(candidates.end(), clustering.begin(), clustering.end());
      for (size_t c : value_columns) {
        if (table.columns[c].type != ColumnType::kDouble) candidates.push_back(c);
      }
      const Column& group = table.columns[PickOne(rng_, candidates)];
      const Column& measured = table.columns[PickOne(rng_, value_columns)];
      std::string select =
          fmt::format("{0}, count(*), count({1})", Q(group.name), Q(measured.name));
      statement.column_names = {group.name, "count(*)", "count(" + measured.name + ")"};
      statement.kinds = {KindOf(group.type), ValueKind::kInt, ValueKind::kInt};
      if (IsNumeric(measured.type)) {
        select += fmt::format(", sum({0}), avg({0})", Q(measured.name));
        statement.column_names.push_back("sum(" + measured.name + ")");
        statement.column_names.push_back("avg(" + measured.name + ")");
        statement.kinds.push_back(SumKind(measured.type));
        statement.kinds.push_back(ValueKind::kDouble);
      }
      statement.head = fmt::format("SELECT {} FROM {}", select, TableRef(schema_, table));
      if (rng_.Chance(0.5)) statement.where = TimeWindow(row, &values);
      statement.tail = " GROUP BY " + Q(group.name);
      values["group_by"] = group.name;
      if (statement.kind == StatementKind::kGroupByHaving) {
        int64_t at_least = rng_.Range(0, 3);
        statement.tail += fmt::format(" HAVING count(*) > {}", at_least);
        values["having_count_above"] = at_least;
      } else if (statement.kind == StatementKind::kGroupOrderByLimit) {
        int64_t limit = rng_.Range(1, 20);
        // The group key is unique per row of the result: a total order.
        statement.tail +=
            fmt::format(" ORDER BY count(*) DESC, {} NULLS LAST LIMIT {}", Ordered(group), limit);
        statement.ordered = true;
        values["limit"] = limit;
      }
      break;
    }
    case StatementKind::kOrderByLimit: {
      statement.head = SelectAll(table);
      if (rng_.Chance(0.5)) statement.where = TimeWindow(row, &values);
      // Every column in the ORDER BY: rows that tie are identical, so the
      // first `limit` rows are the same on every target.
      std::vector<size_t> order(table.columns.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::swap(order[0], order[rng_.Below(order.size())]);
      std::string order_by;
      for (size_t c : order) {
        if (!order_by.empty()) order_by += ", ";
        order_by += fmt::format("{} {} NULLS LAST", Ordered(table.columns[c]),
                                rng_.Chance(0.5) ? "ASC" : "DESC");
      }
      int64_t limit = rng_.Range(1, 50);
      statement.tail = fmt::format(" ORDER BY {} LIMIT {}", order_by, limit);
      statement.ordered = true;
      values["limit"] = limit;
      SetRowColumns(table, &statement);
      break;
    }
    case StatementKind::kInsert:
    case StatementKind::kInsertBatch:
      return absl::InternalError("NextRead drew a write");
  }
  return statement;
}

}  // namespace shardlake::gemini
