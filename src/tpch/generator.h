// TPC-H data generator (TPC-H specification, clause 4.2): the eight tables at
// any scale factor > 0 (fractional ones for tests), deterministic for a given
// (scale factor, seed), as DuckDB chunks that stream with bounded memory.
//
// Units and ranges. Each table is generated in *units*, numbered 0..U-1:
//   nation, region, part, supplier, customer, orders: a unit is a row
//     (unit u has key u+1; nation/region keys are u itself);
//   partsupp: a unit is a part (4 rows: the part's 4 suppliers);
//   lineitem: a unit is an order (its 1..7 line items).
// Every value is a pure function of (seed, table, unit), computed with
// counter-based randomness (tpch/random.h), so ANY split of 0..U-1 into
// ranges yields, in total, exactly the rows of the whole table, whichever
// thread or process makes each range. Unit u of orders and unit u of lineitem
// describe the same order, so generating both tables over the same unit
// range yields the orders together with all of their line items: that is how
// a loader co-locates orders and lineitem by order key (e.g. for bucket b of
// n, generate units [b*U/n, (b+1)*U/n) of both; or generate all units and
// hash o_orderkey / l_orderkey, which gives the same rows).
//
// Using it:
//   ASSIGN_OR_RETURN(auto generator, tpch::Generator::Create(/*scale_factor=*/1, /*seed=*/0));
//   // a) in SQL, through a table function (see RegisterTpchFunction below):
//   RETURN_IF_ERROR(tpch::RegisterTpchFunction(connection, generator));
//   connection.Execute("COPY (SELECT * FROM tpch_rows('orders', 1, 0, 0, 750000)) TO 'o.parquet'");
//   // b) directly, chunk by chunk, e.g. for an appender:
//   ASSIGN_OR_RETURN(auto producer, generator->OpenRange(tpch::Table::kOrders, 0, 750000));
//   // c) whole tables to Parquet files: tpch/parquet_export.h.
//
// Where this departs from dbgen (the TPC's reference generator), the data is
// still within the specification's domains and rules, but not byte-identical
// to dbgen's: our own random streams; a 16 MiB text pool instead of 300 MB;
// grammar productions and words chosen uniformly instead of by the
// specification's weights; the SF*5 "Customer ... Complaints" / "Customer ...
// Recommends" suppliers are one of each per block of 2,000 suppliers (so
// exactly floor(SF*5) of each at whole blocks, none below SF 0.5).
//
// Thread-safety: a Generator is immutable after Create; share it freely.
// Each ChunkProducer belongs to one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "duck/table_function.h"

namespace shardlake::tpch {

enum class Table { kNation, kRegion, kPart, kSupplier, kPartsupp, kCustomer, kOrders, kLineitem };

inline constexpr std::array<Table, 8> kAllTables = {
    Table::kNation,   Table::kRegion,   Table::kPart,   Table::kSupplier,
    Table::kPartsupp, Table::kCustomer, Table::kOrders, Table::kLineitem};

// "nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem".
std::string_view TableName(Table table);
// The inverse of TableName. Errors: InvalidArgument naming the valid names.
absl::StatusOr<Table> ParseTable(std::string_view name);

// The table's columns in specification order. Keys are BIGINT (nation and
// region keys INTEGER), money and quantities DECIMAL(15,2), dates DATE.
const std::vector<duck::ColumnSpec>& TableColumns(Table table);
// The same columns as SQL column definitions, for CREATE TABLE t (...):
// "n_nationkey INTEGER, n_name VARCHAR, n_regionkey INTEGER, n_comment VARCHAR".
std::string ColumnDefinitions(Table table);

class Generator {
 public:
  // Errors: InvalidArgument unless 0 < scale_factor <= 100000 (and finite).
  // Builds the text pool: ~16 MiB, a fraction of a second.
  static absl::StatusOr<std::shared_ptr<const Generator>> Create(double scale_factor,
                                                                 uint64_t seed);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  double scale_factor() const { return scale_factor_; }
  uint64_t seed() const { return seed_; }

  // The number of units of `table` (see above): floor(base * SF) for the
  // scaled tables (supplier 10,000, part 200,000, customer 150,000,
  // orders 1,500,000, each at least 1), 25 for nation, 5 for region.
  int64_t UnitCount(Table table) const;
  // Rows in `unit_count` units: exact except for lineitem, where it is the
  // expectation (4 per order; the spec's ~6,000,000 x SF).
  static int64_t ExpectedRows(Table table, int64_t unit_count);

  // Units [part * U / parts, (part + 1) * U / parts): part `part` of `parts`
  // nearly equal ranges. REQUIRES: 0 <= part < parts.
  struct UnitRange {
    int64_t first = 0;
    int64_t count = 0;
  };
  UnitRange Part(Table table, int64_t part, int64_t parts) const;

  // The rows of units [first_unit, first_unit + unit_count), in key order,
  // with the columns of TableColumns(table). Errors: OutOfRange when the
  // range is not inside 0..UnitCount(table). The producer keeps a reference
  // to this generator (shared ownership).
  absl::StatusOr<std::unique_ptr<duck::ChunkProducer>> OpenRange(Table table, int64_t first_unit,
                                                                 int64_t unit_count) const;

  struct Impl;  // defined and used only in generator.cc

 private:
  Generator(double scale_factor, uint64_t seed);
  double scale_factor_;
  uint64_t seed_;
  std::unique_ptr<const Impl> impl_;
  std::weak_ptr<const Generator> self_;
};

// Registers the SQL table function
//   tpch_rows(table VARCHAR, scale_factor DOUBLE, seed BIGINT,
//             first_unit BIGINT, unit_count BIGINT)
// which returns Generator::OpenRange's rows (unit_count -1: to the end).
// Generators are built on first use per (scale factor, seed) and kept while
// the Database lives; `generator`, when given, is kept from the start so its
// (scale factor, seed) costs nothing. Errors: as TableFunction::Register.
absl::Status RegisterTpchFunction(duck::Connection& connection,
                                  std::shared_ptr<const Generator> generator = nullptr);

}  // namespace shardlake::tpch
