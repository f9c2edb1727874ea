#include "duck/table_function.h"

#include <exception>
#include <utility>

#include "duck/duck.h"
#include "duckdb.h"
#include "fmt/format.h"

namespace shardlake::duck {
namespace {

// Owns a duckdb_logical_type.
class LogicalType {
 public:
  explicit LogicalType(ColumnType type) {
    switch (type) {
      case ColumnType::kInteger:
        handle_ = duckdb_create_logical_type(DUCKDB_TYPE_INTEGER);
        break;
      case ColumnType::kBigInt:
        handle_ = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
        break;
      case ColumnType::kDecimal15_2:
        handle_ = duckdb_create_decimal_type(15, 2);
        break;
      case ColumnType::kDate:
        handle_ = duckdb_create_logical_type(DUCKDB_TYPE_DATE);
        break;
      case ColumnType::kVarchar:
        handle_ = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
        break;
    }
  }
  explicit LogicalType(ParameterType type)
      : handle_(duckdb_create_logical_type(type == ParameterType::kBigInt ? DUCKDB_TYPE_BIGINT
                                           : type == ParameterType::kDouble
                                               ? DUCKDB_TYPE_DOUBLE
                                               : DUCKDB_TYPE_VARCHAR)) {}
  ~LogicalType() { duckdb_destroy_logical_type(&handle_); }
  LogicalType(const LogicalType&) = delete;
  LogicalType& operator=(const LogicalType&) = delete;
  duckdb_logical_type get() const { return handle_; }

 private:
  duckdb_logical_type handle_ = nullptr;
};

// Owns a duckdb_value.
class Value {
 public:
  explicit Value(duckdb_value handle) : handle_(handle) {}
  ~Value() { duckdb_destroy_value(&handle_); }
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
  duckdb_value get() const { return handle_; }

 private:
  duckdb_value handle_;
};

struct BindData {
  TableFunctionBinding binding;
};

struct ScanState {
  std::unique_ptr<ChunkProducer> producer;
  bool finished = false;
};

template <typename T>
void DeleteAs(void* data) {
  delete static_cast<T*>(data);
}

absl::StatusOr<std::vector<ParameterValue>> ReadArguments(const TableFunctionSpec& spec,
                                                          duckdb_bind_info info) {
  std::vector<ParameterValue> arguments;
  for (size_t i = 0; i < spec.parameters.size(); ++i) {
    Value value(duckdb_bind_get_parameter(info, i));
    if (value.get() == nullptr || duckdb_is_null_value(value.get())) {
      return absl::InvalidArgumentError(
          fmt::format("{}: argument {} is NULL; pass a value", spec.name, i + 1));
    }
    switch (spec.parameters[i]) {
      case ParameterType::kBigInt:
        arguments.emplace_back(duckdb_get_int64(value.get()));
        break;
      case ParameterType::kDouble:
        arguments.emplace_back(duckdb_get_double(value.get()));
        break;
      case ParameterType::kVarchar: {
        char* text = duckdb_get_varchar(value.get());
        arguments.emplace_back(std::string(text != nullptr ? text : ""));
        duckdb_free(text);
        break;
      }
    }
  }
  return arguments;
}

void Bind(duckdb_bind_info info) {
  try {
    const auto& spec = *static_cast<const TableFunctionSpec*>(duckdb_bind_get_extra_info(info));
    auto arguments = ReadArguments(spec, info);
    absl::StatusOr<TableFunctionBinding> binding =
        arguments.ok() ? spec.binder(*arguments) : arguments.status();
    if (!binding.ok()) {
      duckdb_bind_set_error(info, std::string(binding.status().message()).c_str());
      return;
    }
    for (const ColumnSpec& column : binding->columns) {
      LogicalType type(column.type);
      duckdb_bind_add_result_column(info, column.name.c_str(), type.get());
    }
    if (binding->cardinality >= 0) {
      duckdb_bind_set_cardinality(info, static_cast<idx_t>(binding->cardinality), true);
    }
    auto data = std::make_unique<BindData>(BindData{*std::move(binding)});
    duckdb_bind_set_bind_data(info, data.release(), DeleteAs<BindData>);
  } catch (const std::exception& e) {
    duckdb_bind_set_error(info, e.what());
  }
}

void Init(duckdb_init_info info) {
  try {
    const auto& data = *static_cast<const BindData*>(duckdb_init_get_bind_data(info));
    duckdb_init_set_max_threads(info, 1);
    auto producer = data.binding.open();
    if (!producer.ok()) {
      duckdb_init_set_error(info, std::string(producer.status().message()).c_str());
      return;
    }
    auto state = std::make_unique<ScanState>();
    state->producer = *std::move(producer);
    duckdb_init_set_init_data(info, state.release(), DeleteAs<ScanState>);
  } catch (const std::exception& e) {
    duckdb_init_set_error(info, e.what());
  }
}

void Scan(duckdb_function_info info, duckdb_data_chunk output) {
  auto& state = *static_cast<ScanState*>(duckdb_function_get_init_data(info));
  if (state.finished) {
    duckdb_data_chunk_set_size(output, 0);
    return;
  }
  try {
    ChunkWriter writer(output);
    absl::StatusOr<size_t> rows = state.producer->Fill(writer);
    if (!rows.ok()) {
      state.finished = true;
      duckdb_function_set_error(info, std::string(rows.status().message()).c_str());
      return;
    }
    if (*rows == 0) state.finished = true;
    duckdb_data_chunk_set_size(output, *rows);
  } catch (const std::exception& e) {
    state.finished = true;
    duckdb_function_set_error(info, e.what());
  }
}

}  // namespace

int32_t* ChunkWriter::Int32Column(size_t column) {
  return static_cast<int32_t*>(
      duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk_, column)));
}

int64_t* ChunkWriter::Int64Column(size_t column) {
  return static_cast<int64_t*>(
      duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk_, column)));
}

void ChunkWriter::SetString(size_t column, size_t row, std::string_view value) {
  duckdb_vector_assign_string_element_len(duckdb_data_chunk_get_vector(chunk_, column), row,
                                          value.data(), value.size());
}

absl::Status TableFunction::Register(Connection& connection, TableFunctionSpec spec) {
  duckdb_table_function function = duckdb_create_table_function();
  duckdb_table_function_set_name(function, spec.name.c_str());
  for (ParameterType parameter : spec.parameters) {
    LogicalType type(parameter);
    duckdb_table_function_add_parameter(function, type.get());
  }
  std::string name = spec.name;
  auto owned = std::make_unique<TableFunctionSpec>(std::move(spec));
  duckdb_table_function_set_extra_info(function, owned.release(), DeleteAs<TableFunctionSpec>);
  duckdb_table_function_set_bind(function, Bind);
  duckdb_table_function_set_init(function, Init);
  duckdb_table_function_set_function(function, Scan);
  duckdb_state state = duckdb_register_table_function(connection.handle_, function);
  duckdb_destroy_table_function(&function);
  if (state == DuckDBError) {
    return absl::InvalidArgumentError(fmt::format(
        "DuckDB refused to register table function '{}' (is the name already taken?)", name));
  }
  return absl::OkStatus();
}

}  // namespace shardlake::duck
