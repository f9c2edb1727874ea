#include "tpch/generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <utility>

#include "duck/duck.h"
#include "fmt/format.h"
#include "tpch/random.h"
#include "tpch/text.h"

namespace shardlake::tpch {
namespace {

using duck::ChunkWriter;
using duck::ColumnSpec;
using duck::ColumnType;

constexpr int32_t DaysSinceEpoch(int year, unsigned month, unsigned day) {
  return static_cast<int32_t>(
      std::chrono::sys_days(std::chrono::year(year) / std::chrono::month(month) /
                            std::chrono::day(day))
          .time_since_epoch()
          .count());
}

// Clause 4.2.2.12.
constexpr int32_t kStartDate = DaysSinceEpoch(1992, 1, 1);
constexpr int32_t kCurrentDate = DaysSinceEpoch(1995, 6, 17);
constexpr int32_t kEndDate = DaysSinceEpoch(1998, 12, 31);

constexpr int64_t kSuppliersPerSf = 10'000;
constexpr int64_t kPartsPerSf = 200'000;
constexpr int64_t kCustomersPerSf = 150'000;
constexpr int64_t kOrdersPerSf = 1'500'000;
constexpr int64_t kSuppliersPerPart = 4;
constexpr int64_t kMaxLinesPerOrder = 7;
// One "Customer ... Complaints" and one "Customer ... Recommends" supplier per
// block of this many (SF*5 of each among SF*10,000 suppliers).
constexpr int64_t kComplaintBlock = 2'000;

// The "part i of n" split in units; also used by callers of Generator::Part.
int64_t SplitPoint(int64_t units, int64_t part, int64_t parts) {
  return static_cast<int64_t>(static_cast<Uint128>(units) * static_cast<Uint128>(part) /
                              static_cast<Uint128>(parts));
}

// o_orderkey of order unit u: only the first 8 of each 32 keys are used.
int64_t OrderKey(int64_t unit) { return (unit / 8) * 32 + unit % 8 + 1; }

// Clause 4.2.3: P_RETAILPRICE in cents.
int64_t RetailPriceCents(int64_t partkey) {
  return 90'000 + (partkey / 10) % 20'001 + 100 * (partkey % 1'000);
}

// Clause 4.2.3: the supplier of partsupp row `i` (0..3) of `partkey`.
int64_t PartSupplier(int64_t partkey, int64_t i, int64_t suppliers) {
  return (partkey + i * (suppliers / 4 + (partkey - 1) / suppliers)) % suppliers + 1;
}

template <typename List>
std::string_view PickFrom(RowRandom& random, const List& list) {
  return list[static_cast<size_t>(random.Uniform(0, static_cast<int64_t>(list.size()) - 1))];
}

// Clause 4.2.2.7: V-STRING, random characters from a 64-symbol alphabet.
void AppendVString(RowRandom& random, int min_length, int max_length, std::string& out) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789, ";
  static_assert(kAlphabet.size() == 64);
  int64_t length = random.Uniform(min_length, max_length);
  uint64_t bits = 0;
  for (int64_t i = 0; i < length; ++i) {
    if (i % 10 == 0) bits = random.Next();
    out += kAlphabet[bits & 63];
    bits >>= 6;
  }
}

// Clause 4.2.2.9: country code (nation key + 10) and three random groups.
void AppendPhone(RowRandom& random, int32_t nationkey, std::string& out) {
  fmt::format_to(std::back_inserter(out), "{}-{}-{}-{}", nationkey + 10, random.Uniform(100, 999),
                 random.Uniform(100, 999), random.Uniform(1000, 9999));
}

struct LineValues {
  int64_t partkey;
  int64_t suppkey;
  int64_t quantity;  // whole units
  int64_t extended_cents;
  int64_t discount;  // hundredths
  int64_t tax;       // hundredths
  int32_t shipdate;
  int32_t commitdate;
  int32_t receiptdate;
  char returnflag;
  char linestatus;
  std::string_view instruct;
  std::string_view mode;
};

struct OrderValues {
  int64_t orderkey;
  int64_t custkey;
  int32_t orderdate;
  std::string_view priority;
  int64_t clerk;
  int lines;
  char status;
  int64_t total_cents;
};

}  // namespace

struct Generator::Impl {
  explicit Impl(uint64_t seed) : pool(seed) {}
  TextPool pool;
  int64_t suppliers = 0;
  int64_t parts = 0;
  int64_t customers = 0;
  int64_t orders = 0;
  int64_t clerks = 0;
};

namespace {

// Draws one line of an order. The comment, drawn last, is left to the caller
// so that the orders table can skip it without changing any other value.
LineValues DrawLine(const Generator::Impl& impl, RowRandom& random, int32_t orderdate) {
  LineValues line;
  line.partkey = random.Uniform(1, impl.parts);
  line.suppkey =
      PartSupplier(line.partkey, random.Uniform(0, kSuppliersPerPart - 1), impl.suppliers);
  line.quantity = random.Uniform(1, 50);
  line.extended_cents = line.quantity * RetailPriceCents(line.partkey);
  line.discount = random.Uniform(0, 10);
  line.tax = random.Uniform(0, 8);
  line.shipdate = orderdate + static_cast<int32_t>(random.Uniform(1, 121));
  line.commitdate = orderdate + static_cast<int32_t>(random.Uniform(30, 90));
  line.receiptdate = line.shipdate + static_cast<int32_t>(random.Uniform(1, 30));
  bool returned_or_accepted = random.Uniform(0, 1) == 0;
  line.returnflag = line.receiptdate <= kCurrentDate ? (returned_or_accepted ? 'R' : 'A') : 'N';
  line.linestatus = line.shipdate > kCurrentDate ? 'O' : 'F';
  line.instruct = PickFrom(random, ShipInstructions());
  line.mode = PickFrom(random, ShipModes());
  return line;
}

RowRandom LineRandom(uint64_t seed, int64_t order_unit, int line) {
  return RowRandom(seed, Stream::kLineitem,
                   static_cast<uint64_t>(order_unit) * 8 + static_cast<uint64_t>(line));
}

// The order-level values of order unit `unit`; `random` is left positioned at
// the order's comment. o_orderstatus and o_totalprice come from its lines,
// and are computed only `with_totals` (the lines use their own streams, so
// skipping them changes nothing else).
OrderValues DrawOrder(const Generator::Impl& impl, uint64_t seed, int64_t unit, RowRandom& random,
                      bool with_totals) {
  OrderValues order;
  order.orderkey = OrderKey(unit);
  // Customers whose key is a multiple of 3 place no orders: draw among the
  // others, numbered j = 0.. -> keys 1, 2, 4, 5, 7, 8, ...
  int64_t eligible = impl.customers - impl.customers / 3;
  int64_t j = random.Uniform(0, eligible - 1);
  order.custkey = (j / 2) * 3 + j % 2 + 1;
  order.orderdate = static_cast<int32_t>(random.Uniform(kStartDate, kEndDate - 151));
  order.priority = PickFrom(random, Priorities());
  order.clerk = random.Uniform(1, impl.clerks);
  order.lines = static_cast<int>(random.Uniform(1, kMaxLinesPerOrder));
  int open_lines = 0;
  order.total_cents = 0;
  order.status = '?';
  if (!with_totals) return order;
  for (int line = 0; line < order.lines; ++line) {
    RowRandom line_random = LineRandom(seed, unit, line);
    LineValues values = DrawLine(impl, line_random, order.orderdate);
    if (values.linestatus == 'O') ++open_lines;
    // extendedprice * (1 + tax) * (1 - discount), rounded to cents (half up).
    int64_t micro = values.extended_cents * (100 - values.discount) * (100 + values.tax);
    order.total_cents += (micro + 5'000) / 10'000;
  }
  order.status = open_lines == 0 ? 'F' : open_lines == order.lines ? 'O' : 'P';
  return order;
}

std::vector<ColumnSpec> MakeColumns(Table table) {
  constexpr auto kInt = ColumnType::kInteger;
  constexpr auto kKey = ColumnType::kBigInt;
  constexpr auto kMoney = ColumnType::kDecimal15_2;
  constexpr auto kDate = ColumnType::kDate;
  constexpr auto kText = ColumnType::kVarchar;
  switch (table) {
    case Table::kNation:
      return {
          {"n_nationkey", kInt}, {"n_name", kText}, {"n_regionkey", kInt}, {"n_comment", kText}};
    case Table::kRegion:
      return {{"r_regionkey", kInt}, {"r_name", kText}, {"r_comment", kText}};
    case Table::kPart:
      return {{"p_partkey", kKey},    {"p_name", kText},         {"p_mfgr", kText},
              {"p_brand", kText},     {"p_type", kText},         {"p_size", kInt},
              {"p_container", kText}, {"p_retailprice", kMoney}, {"p_comment", kText}};
    case Table::kSupplier:
      return {{"s_suppkey", kKey},   {"s_name", kText},  {"s_address", kText},
              {"s_nationkey", kInt}, {"s_phone", kText}, {"s_acctbal", kMoney},
              {"s_comment", kText}};
    case Table::kPartsupp:
      return {{"ps_partkey", kKey},
              {"ps_suppkey", kKey},
              {"ps_availqty", kInt},
              {"ps_supplycost", kMoney},
              {"ps_comment", kText}};
    case Table::kCustomer:
      return {{"c_custkey", kKey},     {"c_name", kText},   {"c_address", kText},
              {"c_nationkey", kInt},   {"c_phone", kText},  {"c_acctbal", kMoney},
              {"c_mktsegment", kText}, {"c_comment", kText}};
    case Table::kOrders:
      return {{"o_orderkey", kKey},     {"o_custkey", kKey},      {"o_orderstatus", kText},
              {"o_totalprice", kMoney}, {"o_orderdate", kDate},   {"o_orderpriority", kText},
              {"o_clerk", kText},       {"o_shippriority", kInt}, {"o_comment", kText}};
    case Table::kLineitem:
      return {{"l_orderkey", kKey},     {"l_partkey", kKey},       {"l_suppkey", kKey},
              {"l_linenumber", kInt},   {"l_quantity", kMoney},    {"l_extendedprice", kMoney},
              {"l_discount", kMoney},   {"l_tax", kMoney},         {"l_returnflag", kText},
              {"l_linestatus", kText},  {"l_shipdate", kDate},     {"l_commitdate", kDate},
              {"l_receiptdate", kDate}, {"l_shipinstruct", kText}, {"l_shipmode", kText},
              {"l_comment", kText}};
  }
  return {};
}

// Fills chunks with the rows of a range of units of one table.
class RangeProducer : public duck::ChunkProducer {
 public:
  RangeProducer(std::shared_ptr<const Generator> owner, const Generator::Impl& impl, Table table,
                int64_t first_unit, int64_t end_unit)
      : owner_(std::move(owner)),
        impl_(impl),
        seed_(owner_->seed()),
        table_(table),
        next_(first_unit),
        end_(end_unit) {}

  absl::StatusOr<size_t> Fill(ChunkWriter& out) override {
    size_t rows = 0;
    while (next_ < end_) {
      size_t unit_rows = table_ == Table::kPartsupp   ? kSuppliersPerPart
                         : table_ == Table::kLineitem ? kMaxLinesPerOrder
                                                      : 1;
      if (rows + unit_rows > ChunkWriter::kChunkCapacity) break;
      rows += FillUnit(out, rows, next_++);
    }
    return rows;
  }

 private:
  // Writes unit `unit` at row `row` of `out`; returns the rows written.
  size_t FillUnit(ChunkWriter& out, size_t row, int64_t unit) {
    switch (table_) {
      case Table::kNation:
        return Nation(out, row, unit);
      case Table::kRegion:
        return Region(out, row, unit);
      case Table::kPart:
        return Part(out, row, unit);
      case Table::kSupplier:
        return Supplier(out, row, unit);
      case Table::kPartsupp:
        return Partsupp(out, row, unit);
      case Table::kCustomer:
        return Customer(out, row, unit);
      case Table::kOrders:
        return Orders(out, row, unit);
      case Table::kLineitem:
        return Lineitem(out, row, unit);
    }
    return 0;
  }

  std::string& Scratch() {
    scratch_.clear();
    return scratch_;
  }

  size_t Nation(ChunkWriter& out, size_t row, int64_t unit) {
    RowRandom random(seed_, Stream::kNation, static_cast<uint64_t>(unit));
    const NationInfo& nation = Nations()[static_cast<size_t>(unit)];
    out.Int32Column(0)[row] = static_cast<int32_t>(unit);
    out.SetString(1, row, nation.name);
    out.Int32Column(2)[row] = nation.region;
    out.SetString(3, row, impl_.pool.Text(random, 31, 114));
    return 1;
  }

  size_t Region(ChunkWriter& out, size_t row, int64_t unit) {
    RowRandom random(seed_, Stream::kRegion, static_cast<uint64_t>(unit));
    out.Int32Column(0)[row] = static_cast<int32_t>(unit);
    out.SetString(1, row, Regions()[static_cast<size_t>(unit)]);
    out.SetString(2, row, impl_.pool.Text(random, 31, 115));
    return 1;
  }

  size_t Part(ChunkWriter& out, size_t row, int64_t unit) {
    RowRandom random(seed_, Stream::kPart, static_cast<uint64_t>(unit));
    int64_t partkey = unit + 1;
    out.Int64Column(0)[row] = partkey;
    // p_name: five distinct color words.
    std::array<size_t, 5> words{};
    std::string& name = Scratch();
    for (size_t i = 0; i < words.size(); ++i) {
      size_t word = 0;
      do {
        word = static_cast<size_t>(random.Uniform(0, static_cast<int64_t>(Colors().size()) - 1));
      } while (std::find(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(i), word) !=
               words.begin() + static_cast<std::ptrdiff_t>(i));
      words[i] = word;
      if (i > 0) name += ' ';
      name += Colors()[word];
    }
    out.SetString(1, row, name);
    int64_t manufacturer = random.Uniform(1, 5);
    char buffer[32];
    auto end = fmt::format_to(buffer, "Manufacturer#{}", manufacturer);
    out.SetString(2, row, std::string_view(buffer, static_cast<size_t>(end - buffer)));
    end = fmt::format_to(buffer, "Brand#{}{}", manufacturer, random.Uniform(1, 5));
    out.SetString(3, row, std::string_view(buffer, static_cast<size_t>(end - buffer)));
    std::string& type = Scratch();
    type += PickFrom(random, TypeSyllable1());
    type += ' ';
    type += PickFrom(random, TypeSyllable2());
    type += ' ';
    type += PickFrom(random, TypeSyllable3());
    out.SetString(4, row, type);
    out.Int32Column(5)[row] = static_cast<int32_t>(random.Uniform(1, 50));
    std::string& container = Scratch();
    container += PickFrom(random, ContainerSyllable1());
    container += ' ';
    container += PickFrom(random, ContainerSyllable2());
    out.SetString(6, row, container);
    out.Int64Column(7)[row] = RetailPriceCents(partkey);
    out.SetString(8, row, impl_.pool.Text(random, 5, 22));
    return 1;
  }

  // Columns 0-5, which supplier and customer share (clause 4.2.3): the key,
  // "<prefix>#<key, 9 digits>", an address, a nation key, a phone number of
  // that nation and an account balance, drawn from `random` in that order.
  void PartyColumns(ChunkWriter& out, size_t row, RowRandom& random, std::string_view prefix,
                    int64_t key) {
    out.Int64Column(0)[row] = key;
    char buffer[48];
    auto end = fmt::format_to(buffer, "{}#{:09}", prefix, key);
    out.SetString(1, row, std::string_view(buffer, static_cast<size_t>(end - buffer)));
    std::string& address = Scratch();
    AppendVString(random, 10, 40, address);
    out.SetString(2, row, address);
    auto nationkey = static_cast<int32_t>(random.Uniform(0, 24));
    out.Int32Column(3)[row] = nationkey;
    std::string& phone = Scratch();
    AppendPhone(random, nationkey, phone);
    out.SetString(4, row, phone);
    out.Int64Column(5)[row] = random.Uniform(-99'999, 999'999);
  }

  size_t Supplier(ChunkWriter& out, size_t row, int64_t unit) {
    RowRandom random(seed_, Stream::kSupplier, static_cast<uint64_t>(unit));
    PartyColumns(out, row, random, "Supplier", unit + 1);
    std::string& comment = Scratch();
    comment += impl_.pool.Text(random, 25, 100);
    MarkComplaint(unit, comment);
    out.SetString(6, row, comment);
    return 1;
  }

  // Clause 4.2.3: SF*5 supplier comments read "...Customer ...Complaints..."
  // and SF*5 others "...Customer ...Recommends...". One of each per block.
  void MarkComplaint(int64_t unit, std::string& comment) const {
    int64_t block = unit / kComplaintBlock;
    if ((block + 1) * kComplaintBlock > impl_.suppliers) return;  // partial block: none
    RowRandom pick(seed_, Stream::kSupplierComplaints, static_cast<uint64_t>(block));
    int64_t complaint = pick.Uniform(0, kComplaintBlock - 1);
    int64_t recommend = pick.Uniform(0, kComplaintBlock - 2);
    if (recommend >= complaint) ++recommend;
    int64_t offset = unit % kComplaintBlock;
    if (offset != complaint && offset != recommend) return;
    std::string_view tail = offset == complaint ? "Complaints" : "Recommends";
    constexpr std::string_view kHead = "Customer ";
    RowRandom place(seed_, Stream::kSupplierComplaints,
                    (static_cast<uint64_t>(unit) << 1) | 1);  // distinct from block draws
    auto length = static_cast<int64_t>(comment.size());       // >= 25 >= 9 + 10
    int64_t head_at = place.Uniform(0, length - static_cast<int64_t>(kHead.size() + tail.size()));
    int64_t tail_at = place.Uniform(head_at + static_cast<int64_t>(kHead.size()),
                                    length - static_cast<int64_t>(tail.size()));
    comment.replace(static_cast<size_t>(head_at), kHead.size(), kHead);
    comment.replace(static_cast<size_t>(tail_at), tail.size(), tail);
  }

  size_t Partsupp(ChunkWriter& out, size_t row, int64_t unit) {
    int64_t partkey = unit + 1;
    for (int64_t i = 0; i < kSuppliersPerPart; ++i) {
      size_t at = row + static_cast<size_t>(i);
      RowRandom random(seed_, Stream::kPartsupp,
                       static_cast<uint64_t>(unit * kSuppliersPerPart + i));
      out.Int64Column(0)[at] = partkey;
      out.Int64Column(1)[at] = PartSupplier(partkey, i, impl_.suppliers);
      out.Int32Column(2)[at] = static_cast<int32_t>(random.Uniform(1, 9'999));
      out.Int64Column(3)[at] = random.Uniform(100, 100'000);
      out.SetString(4, at, impl_.pool.Text(random, 49, 198));
    }
    return kSuppliersPerPart;
  }

  size_t Customer(ChunkWriter& out, size_t row, int64_t unit) {
    RowRandom random(seed_, Stream::kCustomer, static_cast<uint64_t>(unit));
    PartyColumns(out, row, random, "Customer", unit + 1);
    out.SetString(6, row, PickFrom(random, Segments()));
    out.SetString(7, row, impl_.pool.Text(random, 29, 116));
    return 1;
  }

  size_t Orders(ChunkWriter& out, size_t row, int64_t unit) {
    RowRandom random(seed_, Stream::kOrder, static_cast<uint64_t>(unit));
    OrderValues order = DrawOrder(impl_, seed_, unit, random, /*with_totals=*/true);
    out.Int64Column(0)[row] = order.orderkey;
    out.Int64Column(1)[row] = order.custkey;
    out.SetString(2, row, std::string_view(&order.status, 1));
    out.Int64Column(3)[row] = order.total_cents;
    out.Int32Column(4)[row] = order.orderdate;
    out.SetString(5, row, order.priority);
    char buffer[32];
    auto end = fmt::format_to(buffer, "Clerk#{:09}", order.clerk);
    out.SetString(6, row, std::string_view(buffer, static_cast<size_t>(end - buffer)));
    out.Int32Column(7)[row] = 0;
    out.SetString(8, row, impl_.pool.Text(random, 19, 78));
    return 1;
  }

  size_t Lineitem(ChunkWriter& out, size_t row, int64_t unit) {
    RowRandom order_random(seed_, Stream::kOrder, static_cast<uint64_t>(unit));
    // The order's key, date and line count: the orders table's draws.
    OrderValues order = DrawOrder(impl_, seed_, unit, order_random, /*with_totals=*/false);
    for (int line = 0; line < order.lines; ++line) {
      size_t at = row + static_cast<size_t>(line);
      RowRandom random = LineRandom(seed_, unit, line);
      LineValues values = DrawLine(impl_, random, order.orderdate);
      out.Int64Column(0)[at] = order.orderkey;
      out.Int64Column(1)[at] = values.partkey;
      out.Int64Column(2)[at] = values.suppkey;
      out.Int32Column(3)[at] = line + 1;
      out.Int64Column(4)[at] = values.quantity * 100;
      out.Int64Column(5)[at] = values.extended_cents;
      out.Int64Column(6)[at] = values.discount;
      out.Int64Column(7)[at] = values.tax;
      out.SetString(8, at, std::string_view(&values.returnflag, 1));
      out.SetString(9, at, std::string_view(&values.linestatus, 1));
      out.Int32Column(10)[at] = values.shipdate;
      out.Int32Column(11)[at] = values.commitdate;
      out.Int32Column(12)[at] = values.receiptdate;
      out.SetString(13, at, values.instruct);
      out.SetString(14, at, values.mode);
      out.SetString(15, at, impl_.pool.Text(random, 10, 43));
    }
    return static_cast<size_t>(order.lines);
  }

  std::shared_ptr<const Generator> owner_;
  const Generator::Impl& impl_;
  uint64_t seed_;
  Table table_;
  int64_t next_;
  int64_t end_;
  std::string scratch_;
};

}  // namespace

std::string_view TableName(Table table) {
  switch (table) {
    case Table::kNation:
      return "nation";
    case Table::kRegion:
      return "region";
    case Table::kPart:
      return "part";
    case Table::kSupplier:
      return "supplier";
    case Table::kPartsupp:
      return "partsupp";
    case Table::kCustomer:
      return "customer";
    case Table::kOrders:
      return "orders";
    case Table::kLineitem:
      return "lineitem";
  }
  return "";
}

absl::StatusOr<Table> ParseTable(std::string_view name) {
  for (Table table : kAllTables) {
    if (TableName(table) == name) return table;
  }
  return absl::InvalidArgumentError(fmt::format(
      "unknown TPC-H table '{}'; use one of nation, region, part, supplier, partsupp, customer, "
      "orders, lineitem",
      name));
}

const std::vector<ColumnSpec>& TableColumns(Table table) {
  static const std::array<std::vector<ColumnSpec>, kAllTables.size()> kColumns = [] {
    std::array<std::vector<ColumnSpec>, kAllTables.size()> columns;
    for (Table t : kAllTables) columns[static_cast<size_t>(t)] = MakeColumns(t);
    return columns;
  }();
  return kColumns[static_cast<size_t>(table)];
}

std::string ColumnDefinitions(Table table) {
  std::string sql;
  for (const ColumnSpec& column : TableColumns(table)) {
    if (!sql.empty()) sql += ", ";
    sql += column.name;
    switch (column.type) {
      case ColumnType::kInteger:
        sql += " INTEGER";
        break;
      case ColumnType::kBigInt:
        sql += " BIGINT";
        break;
      case ColumnType::kDecimal15_2:
        sql += " DECIMAL(15,2)";
        break;
      case ColumnType::kDate:
        sql += " DATE";
        break;
      case ColumnType::kVarchar:
        sql += " VARCHAR";
        break;
    }
  }
  return sql;
}

Generator::Generator(double scale_factor, uint64_t seed)
    : scale_factor_(scale_factor), seed_(seed) {
  auto impl = std::make_unique<Impl>(seed);
  auto scaled = [scale_factor](int64_t base) {
    return std::max<int64_t>(
        1, static_cast<int64_t>(std::floor(static_cast<double>(base) * scale_factor + 1e-9)));
  };
  impl->suppliers = scaled(kSuppliersPerSf);
  impl->parts = scaled(kPartsPerSf);
  impl->customers = std::max<int64_t>(2, scaled(kCustomersPerSf));  // some key not divisible by 3
  impl->orders = scaled(kOrdersPerSf);
  impl->clerks = scaled(1'000);
  impl_ = std::move(impl);
}

Generator::~Generator() = default;

absl::StatusOr<std::shared_ptr<const Generator>> Generator::Create(double scale_factor,
                                                                   uint64_t seed) {
  if (!std::isfinite(scale_factor) || scale_factor <= 0 || scale_factor > 100'000) {
    return absl::InvalidArgumentError(fmt::format(
        "TPC-H scale factor {} is out of range; use a number > 0 and <= 100000 (e.g. 1 or 0.01)",
        scale_factor));
  }
  std::shared_ptr<Generator> generator(new Generator(scale_factor, seed));
  generator->self_ = generator;
  return std::shared_ptr<const Generator>(std::move(generator));
}

int64_t Generator::UnitCount(Table table) const {
  switch (table) {
    case Table::kNation:
      return static_cast<int64_t>(Nations().size());
    case Table::kRegion:
      return static_cast<int64_t>(Regions().size());
    case Table::kPart:
    case Table::kPartsupp:
      return impl_->parts;
    case Table::kSupplier:
      return impl_->suppliers;
    case Table::kCustomer:
      return impl_->customers;
    case Table::kOrders:
    case Table::kLineitem:
      return impl_->orders;
  }
  return 0;
}

int64_t Generator::ExpectedRows(Table table, int64_t unit_count) {
  if (table == Table::kPartsupp) return unit_count * kSuppliersPerPart;
  if (table == Table::kLineitem) return unit_count * (1 + kMaxLinesPerOrder) / 2;
  return unit_count;
}

Generator::UnitRange Generator::Part(Table table, int64_t part, int64_t parts) const {
  int64_t units = UnitCount(table);
  int64_t first = SplitPoint(units, part, parts);
  return {first, SplitPoint(units, part + 1, parts) - first};
}

absl::StatusOr<std::unique_ptr<duck::ChunkProducer>> Generator::OpenRange(
    Table table, int64_t first_unit, int64_t unit_count) const {
  int64_t units = UnitCount(table);
  if (first_unit < 0 || unit_count < 0 || first_unit > units || unit_count > units - first_unit) {
    return absl::OutOfRangeError(fmt::format(
        "TPC-H {} at scale factor {} has units 0..{}; units [{}, {}+{}) are outside that",
        TableName(table), scale_factor_, units - 1, first_unit, first_unit, unit_count));
  }
  std::shared_ptr<const Generator> self = self_.lock();
  return std::make_unique<RangeProducer>(std::move(self), *impl_, table, first_unit,
                                         first_unit + unit_count);
}

absl::Status RegisterTpchFunction(duck::Connection& connection,
                                  std::shared_ptr<const Generator> generator) {
  struct Cache {
    std::mutex mutex;
    std::map<std::pair<double, uint64_t>, std::shared_ptr<const Generator>> generators;
  };
  auto cache = std::make_shared<Cache>();
  if (generator != nullptr) {
    cache->generators[{generator->scale_factor(), generator->seed()}] = generator;
  }
  duck::TableFunctionSpec spec;
  spec.name = "tpch_rows";
  spec.parameters = {duck::ParameterType::kVarchar, duck::ParameterType::kDouble,
                     duck::ParameterType::kBigInt, duck::ParameterType::kBigInt,
                     duck::ParameterType::kBigInt};
  spec.binder = [cache](const std::vector<duck::ParameterValue>& arguments)
      -> absl::StatusOr<duck::TableFunctionBinding> {
    auto table = ParseTable(std::get<std::string>(arguments[0]));
    if (!table.ok()) return table.status();
    double scale_factor = std::get<double>(arguments[1]);
    auto seed = static_cast<uint64_t>(std::get<int64_t>(arguments[2]));
    std::shared_ptr<const Generator> chosen;
    {
      std::lock_guard<std::mutex> lock(cache->mutex);
      auto& slot = cache->generators[{scale_factor, seed}];
      if (slot == nullptr) {
        auto created = Generator::Create(scale_factor, seed);
        if (!created.ok()) {
          cache->generators.erase({scale_factor, seed});
          return created.status();
        }
        slot = *std::move(created);
      }
      chosen = slot;
    }
    int64_t first = std::get<int64_t>(arguments[3]);
    int64_t count = std::get<int64_t>(arguments[4]);
    if (count == -1) count = chosen->UnitCount(*table) - first;
    // Validate now so that a bad range fails at bind time, with its message.
    auto probe = chosen->OpenRange(*table, first, count);
    if (!probe.ok()) return probe.status();
    duck::TableFunctionBinding binding;
    binding.columns = TableColumns(*table);
    binding.cardinality = Generator::ExpectedRows(*table, count);
    binding.open = [chosen, table = *table, first, count]() {
      return chosen->OpenRange(table, first, count);
    };
    return binding;
  };
  return duck::TableFunction::Register(connection, std::move(spec));
}

}  // namespace shardlake::tpch
