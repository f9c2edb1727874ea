#include "duck/duck.h"

#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "duckdb.h"
#include "fmt/format.h"

namespace shardlake::duck {
namespace {

absl::StatusCode CodeForErrorType(duckdb_error_type type) {
  switch (type) {
    case DUCKDB_ERROR_PARSER:
    case DUCKDB_ERROR_SYNTAX:
    case DUCKDB_ERROR_BINDER:
    case DUCKDB_ERROR_CONVERSION:
    case DUCKDB_ERROR_OUT_OF_RANGE:
    case DUCKDB_ERROR_INVALID_INPUT:
    case DUCKDB_ERROR_INVALID_TYPE:
    case DUCKDB_ERROR_MISMATCH_TYPE:
    case DUCKDB_ERROR_DIVIDE_BY_ZERO:
    case DUCKDB_ERROR_DECIMAL:
    case DUCKDB_ERROR_PARAMETER_NOT_RESOLVED:
    case DUCKDB_ERROR_PARAMETER_NOT_ALLOWED:
    case DUCKDB_ERROR_SETTINGS:
      return absl::StatusCode::kInvalidArgument;
    case DUCKDB_ERROR_CATALOG:
      return absl::StatusCode::kNotFound;
    case DUCKDB_ERROR_CONSTRAINT:
    case DUCKDB_ERROR_DEPENDENCY:
      return absl::StatusCode::kFailedPrecondition;
    case DUCKDB_ERROR_NOT_IMPLEMENTED:
      return absl::StatusCode::kUnimplemented;
    case DUCKDB_ERROR_INTERRUPT:
      return absl::StatusCode::kCancelled;
    case DUCKDB_ERROR_OUT_OF_MEMORY:
      return absl::StatusCode::kResourceExhausted;
    case DUCKDB_ERROR_IO:
    case DUCKDB_ERROR_NETWORK:
    case DUCKDB_ERROR_HTTP:
      return absl::StatusCode::kUnavailable;
    case DUCKDB_ERROR_PERMISSION:
      return absl::StatusCode::kPermissionDenied;
    case DUCKDB_ERROR_TRANSACTION:
      return absl::StatusCode::kAborted;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status ErrorFromResult(duckdb_result* result) {
  const char* message = duckdb_result_error(result);
  return absl::Status(CodeForErrorType(duckdb_result_error_type(result)),
                      message != nullptr ? message : "unknown DuckDB error");
}

// Consumes `error`; OK when it holds no error.
absl::Status ConsumeErrorData(duckdb_error_data error) {
  if (error == nullptr) return absl::OkStatus();
  absl::Status status = absl::OkStatus();
  if (duckdb_error_data_has_error(error)) {
    status = absl::Status(CodeForErrorType(duckdb_error_data_error_type(error)),
                          duckdb_error_data_message(error));
  }
  duckdb_destroy_error_data(&error);
  return status;
}

TypeKind KindOf(duckdb_type type) {
  switch (type) {
    case DUCKDB_TYPE_BOOLEAN:
      return TypeKind::kBoolean;
    case DUCKDB_TYPE_TINYINT:
      return TypeKind::kTinyInt;
    case DUCKDB_TYPE_SMALLINT:
      return TypeKind::kSmallInt;
    case DUCKDB_TYPE_INTEGER:
      return TypeKind::kInteger;
    case DUCKDB_TYPE_BIGINT:
      return TypeKind::kBigInt;
    case DUCKDB_TYPE_UTINYINT:
      return TypeKind::kUTinyInt;
    case DUCKDB_TYPE_USMALLINT:
      return TypeKind::kUSmallInt;
    case DUCKDB_TYPE_UINTEGER:
      return TypeKind::kUInteger;
    case DUCKDB_TYPE_UBIGINT:
      return TypeKind::kUBigInt;
    case DUCKDB_TYPE_FLOAT:
      return TypeKind::kFloat;
    case DUCKDB_TYPE_DOUBLE:
      return TypeKind::kDouble;
    case DUCKDB_TYPE_VARCHAR:
      return TypeKind::kVarchar;
    case DUCKDB_TYPE_BLOB:
      return TypeKind::kBlob;
    case DUCKDB_TYPE_DATE:
      return TypeKind::kDate;
    case DUCKDB_TYPE_TIMESTAMP:
      return TypeKind::kTimestamp;
    case DUCKDB_TYPE_TIMESTAMP_S:
      return TypeKind::kTimestampS;
    case DUCKDB_TYPE_TIMESTAMP_MS:
      return TypeKind::kTimestampMs;
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return TypeKind::kTimestampNs;
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return TypeKind::kTimestampTz;
    default:
      return TypeKind::kOther;
  }
}

TypeKind KindOfLogicalType(duckdb_logical_type type) {
  TypeKind kind = KindOf(duckdb_get_type_id(type));
  duckdb_destroy_logical_type(&type);
  return kind;
}

}  // namespace

// ---------------------------------------------------------------- Database

absl::StatusOr<std::unique_ptr<Database>> Database::Open(
    const std::string& path, const std::map<std::string, std::string>& options) {
  static const std::set<std::string> kExtensionSettings = {"parquet_metadata_cache"};
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) == DuckDBError) {
    return absl::InternalError("DuckDB: cannot create a configuration");
  }
  std::string set_after_open;
  for (const auto& [name, value] : options) {
    if (kExtensionSettings.contains(name)) {
      std::string literal;
      for (char c : value) literal += c == '\'' ? std::string("''") : std::string(1, c);
      set_after_open += fmt::format("SET GLOBAL {} = '{}';", name, literal);
      continue;
    }
    if (duckdb_set_config(config, name.c_str(), value.c_str()) == DuckDBError) {
      duckdb_destroy_config(&config);
      return absl::InvalidArgumentError(fmt::format("DuckDB: invalid option {}='{}'", name, value));
    }
  }
  duckdb_database handle = nullptr;
  char* error = nullptr;
  const char* c_path = (path.empty() || path == ":memory:") ? nullptr : path.c_str();
  duckdb_state state = duckdb_open_ext(c_path, &handle, config, &error);
  duckdb_destroy_config(&config);
  if (state == DuckDBError) {
    std::string message = error != nullptr ? error : "unknown error";
    duckdb_free(error);
    return absl::UnavailableError(fmt::format("DuckDB: cannot open '{}': {}", path, message));
  }
  auto database = std::unique_ptr<Database>(new Database(handle));
  if (!set_after_open.empty()) {
    auto connection = Connection::Open(*database);
    if (!connection.ok()) return connection.status();
    if (absl::Status set = (*connection)->Execute(set_after_open); !set.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("DuckDB: invalid option ({})", std::string(set.message())));
    }
  }
  return database;
}

Database::~Database() { duckdb_close(&handle_); }

// ---------------------------------------------------------------- Result

struct Result::State {
  duckdb_result result{};
  ~State() { duckdb_destroy_result(&result); }
};

Result::Result(std::unique_ptr<State> state) : state_(std::move(state)) {}
Result::~Result() = default;

size_t Result::ColumnCount() const { return duckdb_column_count(&state_->result); }

std::string Result::ColumnName(size_t column) const {
  const char* name = duckdb_column_name(&state_->result, column);
  return name != nullptr ? name : "";
}

TypeKind Result::ColumnKind(size_t column) const {
  return KindOf(duckdb_column_type(&state_->result, column));
}

int64_t Result::RowsChanged() const {
  return static_cast<int64_t>(duckdb_rows_changed(&state_->result));
}

absl::StatusOr<std::unique_ptr<DataChunk>> Result::Fetch() {
  duckdb_data_chunk chunk = duckdb_fetch_chunk(state_->result);
  if (chunk == nullptr) {
    // A streaming result reports errors met while producing chunks here.
    if (duckdb_result_error(&state_->result) != nullptr) {
      return ErrorFromResult(&state_->result);
    }
    return std::unique_ptr<DataChunk>();
  }
  return std::unique_ptr<DataChunk>(new DataChunk(chunk));
}

absl::StatusOr<std::vector<std::vector<std::optional<std::string>>>> Result::FetchAllAsStrings() {
  std::vector<std::vector<std::optional<std::string>>> rows;
  while (true) {
    auto chunk = Fetch();
    if (!chunk.ok()) return chunk.status();
    if (*chunk == nullptr) break;
    DataChunk& c = **chunk;
    for (size_t row = 0; row < c.RowCount(); ++row) {
      std::vector<std::optional<std::string>> values;
      values.reserve(c.ColumnCount());
      for (size_t col = 0; col < c.ColumnCount(); ++col) {
        if (c.IsNull(col, row)) {
          values.emplace_back(std::nullopt);
          continue;
        }
        auto value = c.GetString(col, row);
        if (!value.ok()) return value.status();
        values.emplace_back(std::move(*value));
      }
      rows.push_back(std::move(values));
    }
  }
  return rows;
}

// ---------------------------------------------------------------- DataChunk

DataChunk::~DataChunk() { duckdb_destroy_data_chunk(&handle_); }

size_t DataChunk::RowCount() const { return duckdb_data_chunk_get_size(handle_); }
size_t DataChunk::ColumnCount() const { return duckdb_data_chunk_get_column_count(handle_); }

TypeKind DataChunk::ColumnKind(size_t column) const {
  duckdb_vector vector = duckdb_data_chunk_get_vector(handle_, column);
  return KindOfLogicalType(duckdb_vector_get_column_type(vector));
}

bool DataChunk::IsNull(size_t column, size_t row) const {
  duckdb_vector vector = duckdb_data_chunk_get_vector(handle_, column);
  uint64_t* validity = duckdb_vector_get_validity(vector);
  return validity != nullptr && !duckdb_validity_row_is_valid(validity, row);
}

absl::StatusOr<int64_t> DataChunk::GetInt64(size_t column, size_t row) const {
  duckdb_vector vector = duckdb_data_chunk_get_vector(handle_, column);
  const void* data = duckdb_vector_get_data(vector);
  switch (ColumnKind(column)) {
    case TypeKind::kBoolean:
      return static_cast<const bool*>(data)[row] ? 1 : 0;
    case TypeKind::kTinyInt:
      return static_cast<const int8_t*>(data)[row];
    case TypeKind::kSmallInt:
      return static_cast<const int16_t*>(data)[row];
    case TypeKind::kInteger:
    case TypeKind::kDate:
      return static_cast<const int32_t*>(data)[row];
    case TypeKind::kBigInt:
    case TypeKind::kTimestamp:
    case TypeKind::kTimestampS:
    case TypeKind::kTimestampMs:
    case TypeKind::kTimestampNs:
    case TypeKind::kTimestampTz:
      return static_cast<const int64_t*>(data)[row];
    case TypeKind::kUTinyInt:
      return static_cast<const uint8_t*>(data)[row];
    case TypeKind::kUSmallInt:
      return static_cast<const uint16_t*>(data)[row];
    case TypeKind::kUInteger:
      return static_cast<const uint32_t*>(data)[row];
    case TypeKind::kUBigInt: {
      uint64_t value = static_cast<const uint64_t*>(data)[row];
      if (value > static_cast<uint64_t>(INT64_MAX)) {
        return absl::OutOfRangeError(fmt::format("UBIGINT {} does not fit in int64", value));
      }
      return static_cast<int64_t>(value);
    }
    default:
      return absl::InvalidArgumentError(
          fmt::format("column {} is not an integer, date or timestamp column", column));
  }
}

absl::StatusOr<double> DataChunk::GetDouble(size_t column, size_t row) const {
  duckdb_vector vector = duckdb_data_chunk_get_vector(handle_, column);
  const void* data = duckdb_vector_get_data(vector);
  switch (ColumnKind(column)) {
    case TypeKind::kFloat:
      return static_cast<const float*>(data)[row];
    case TypeKind::kDouble:
      return static_cast<const double*>(data)[row];
    default: {
      auto as_int = GetInt64(column, row);
      if (!as_int.ok()) {
        return absl::InvalidArgumentError(fmt::format("column {} is not numeric", column));
      }
      return static_cast<double>(*as_int);
    }
  }
}

absl::StatusOr<bool> DataChunk::GetBool(size_t column, size_t row) const {
  if (ColumnKind(column) != TypeKind::kBoolean) {
    return absl::InvalidArgumentError(fmt::format("column {} is not BOOLEAN", column));
  }
  duckdb_vector vector = duckdb_data_chunk_get_vector(handle_, column);
  return static_cast<const bool*>(duckdb_vector_get_data(vector))[row];
}

absl::StatusOr<std::string> DataChunk::GetString(size_t column, size_t row) const {
  duckdb_vector vector = duckdb_data_chunk_get_vector(handle_, column);
  TypeKind kind = ColumnKind(column);
  switch (kind) {
    case TypeKind::kVarchar:
    case TypeKind::kBlob: {
      auto* strings = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector));
      duckdb_string_t* value = &strings[row];
      return std::string(duckdb_string_t_data(value), duckdb_string_t_length(*value));
    }
    case TypeKind::kFloat:
    case TypeKind::kDouble: {
      auto value = GetDouble(column, row);
      if (!value.ok()) return value.status();
      return fmt::format("{}", *value);
    }
    case TypeKind::kBoolean:
      return static_cast<const bool*>(duckdb_vector_get_data(vector))[row] ? "true" : "false";
    case TypeKind::kOther:
      return absl::InvalidArgumentError(
          fmt::format("column {} has a type that must be cast to VARCHAR to be read", column));
    default: {
      auto value = GetInt64(column, row);
      if (!value.ok()) return value.status();
      return fmt::format("{}", *value);
    }
  }
}

absl::StatusOr<std::unique_ptr<DataChunk>> DataChunk::CopyRows(size_t first_row,
                                                               size_t row_count) const {
  size_t rows = RowCount();
  if (first_row > rows || row_count > rows - first_row) {
    return absl::InvalidArgumentError(fmt::format("cannot copy rows [{}, {}) of a chunk of {} rows",
                                                  first_row, first_row + row_count, rows));
  }
  size_t columns = ColumnCount();
  std::vector<duckdb_logical_type> types(columns);
  for (size_t i = 0; i < columns; ++i) {
    types[i] = duckdb_vector_get_column_type(duckdb_data_chunk_get_vector(handle_, i));
  }
  duckdb_data_chunk copy = duckdb_create_data_chunk(types.data(), columns);
  for (auto& type : types) duckdb_destroy_logical_type(&type);
  auto owned = std::unique_ptr<DataChunk>(new DataChunk(copy));
  if (row_count == 0) return owned;
  // The selection names every row up to the range's end; copying from
  // `first_row` of it takes exactly the range.
  size_t end = first_row + row_count;
  duckdb_selection_vector selection = duckdb_create_selection_vector(end);
  sel_t* positions = duckdb_selection_vector_get_data_ptr(selection);
  for (size_t i = 0; i < end; ++i) positions[i] = static_cast<sel_t>(i);
  for (size_t i = 0; i < columns; ++i) {
    duckdb_vector_copy_sel(duckdb_data_chunk_get_vector(handle_, i),
                           duckdb_data_chunk_get_vector(copy, i), selection, end, first_row, 0);
  }
  duckdb_destroy_selection_vector(selection);
  duckdb_data_chunk_set_size(copy, row_count);
  return owned;
}

// ---------------------------------------------------------------- PreparedStatement

PreparedStatement::~PreparedStatement() { duckdb_destroy_prepare(&handle_); }

namespace {
absl::Status BindStatus(duckdb_state state, size_t index) {
  if (state == DuckDBError) {
    return absl::InvalidArgumentError(fmt::format("cannot bind parameter {}", index));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status PreparedStatement::BindInt64(size_t index, int64_t value) {
  return BindStatus(duckdb_bind_int64(handle_, index, value), index);
}
absl::Status PreparedStatement::BindDouble(size_t index, double value) {
  return BindStatus(duckdb_bind_double(handle_, index, value), index);
}
absl::Status PreparedStatement::BindString(size_t index, std::string_view value) {
  return BindStatus(duckdb_bind_varchar_length(handle_, index, value.data(), value.size()), index);
}
absl::Status PreparedStatement::BindBool(size_t index, bool value) {
  return BindStatus(duckdb_bind_boolean(handle_, index, value), index);
}
absl::Status PreparedStatement::BindNull(size_t index) {
  return BindStatus(duckdb_bind_null(handle_, index), index);
}
absl::Status PreparedStatement::ClearBindings() {
  if (duckdb_clear_bindings(handle_) == DuckDBError) {
    return absl::InternalError("DuckDB: cannot clear bindings");
  }
  return absl::OkStatus();
}

size_t PreparedStatement::ParameterCount() const { return duckdb_nparams(handle_); }

absl::StatusOr<std::unique_ptr<Result>> PreparedStatement::Execute(bool streaming) {
  auto state = std::make_unique<Result::State>();
  duckdb_state rc = streaming ? duckdb_execute_prepared_streaming(handle_, &state->result)
                              : duckdb_execute_prepared(handle_, &state->result);
  if (rc == DuckDBError) return ErrorFromResult(&state->result);
  return std::unique_ptr<Result>(new Result(std::move(state)));
}

// ---------------------------------------------------------------- Appender

Appender::~Appender() { duckdb_appender_destroy(&handle_); }

absl::Status Appender::Check(bool failed, std::string_view what) {
  if (!failed) return absl::OkStatus();
  duckdb_error_data error = duckdb_appender_error_data(handle_);
  absl::Status status = ConsumeErrorData(error);
  if (status.ok()) status = absl::InternalError("DuckDB appender failed");
  return absl::Status(status.code(), fmt::format("{}: {}", what, std::string(status.message())));
}

absl::Status Appender::AppendInt64(int64_t value) {
  return Check(duckdb_append_int64(handle_, value) == DuckDBError, "append");
}
absl::Status Appender::AppendDouble(double value) {
  return Check(duckdb_append_double(handle_, value) == DuckDBError, "append");
}
absl::Status Appender::AppendString(std::string_view value) {
  return Check(duckdb_append_varchar_length(handle_, value.data(), value.size()) == DuckDBError,
               "append");
}
absl::Status Appender::AppendBool(bool value) {
  return Check(duckdb_append_bool(handle_, value) == DuckDBError, "append");
}
absl::Status Appender::AppendNull() {
  return Check(duckdb_append_null(handle_) == DuckDBError, "append");
}
absl::Status Appender::AppendChunk(DataChunk& chunk) {
  return Check(duckdb_append_data_chunk(handle_, chunk.handle_) == DuckDBError, "append chunk");
}
absl::Status Appender::EndRow() {
  return Check(duckdb_appender_end_row(handle_) == DuckDBError, "end row");
}
absl::Status Appender::Flush() {
  return Check(duckdb_appender_flush(handle_) == DuckDBError, "flush");
}
absl::Status Appender::Close() {
  return Check(duckdb_appender_close(handle_) == DuckDBError, "close");
}

// ---------------------------------------------------------------- ArrowBatch

ArrowBatch::ArrowBatch()
    : schema_(std::make_unique<ArrowSchema>()), array_(std::make_unique<ArrowArray>()) {
  std::memset(schema_.get(), 0, sizeof(ArrowSchema));
  std::memset(array_.get(), 0, sizeof(ArrowArray));
}

ArrowBatch::ArrowBatch(ArrowBatch&& other) noexcept
    : schema_(std::move(other.schema_)), array_(std::move(other.array_)) {}

ArrowBatch::~ArrowBatch() {
  if (array_ != nullptr && array_->release != nullptr) array_->release(array_.get());
  if (schema_ != nullptr && schema_->release != nullptr) schema_->release(schema_.get());
}

int64_t ArrowBatch::length() const { return array_ != nullptr ? array_->length : 0; }

// ---------------------------------------------------------------- Connection

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(Database& database) {
  duckdb_connection handle = nullptr;
  if (duckdb_connect(database.handle_, &handle) == DuckDBError) {
    return absl::UnavailableError("DuckDB: cannot open a connection");
  }
  return std::unique_ptr<Connection>(new Connection(handle));
}

Connection::~Connection() { duckdb_disconnect(&handle_); }

absl::Status Connection::Execute(std::string_view sql) {
  duckdb_result result;
  std::string text(sql);
  duckdb_state rc = duckdb_query(handle_, text.c_str(), &result);
  absl::Status status = rc == DuckDBError ? ErrorFromResult(&result) : absl::OkStatus();
  duckdb_destroy_result(&result);
  return status;
}

absl::StatusOr<std::unique_ptr<Result>> Connection::Query(std::string_view sql) {
  auto state = std::make_unique<Result::State>();
  std::string text(sql);
  if (duckdb_query(handle_, text.c_str(), &state->result) == DuckDBError) {
    return ErrorFromResult(&state->result);
  }
  return std::unique_ptr<Result>(new Result(std::move(state)));
}

absl::StatusOr<std::unique_ptr<Result>> Connection::QueryStreaming(std::string_view sql) {
  auto prepared = Prepare(sql);
  if (!prepared.ok()) return prepared.status();
  return (*prepared)->Execute(/*streaming=*/true);
}

absl::StatusOr<std::unique_ptr<PreparedStatement>> Connection::Prepare(std::string_view sql) {
  duckdb_prepared_statement handle = nullptr;
  std::string text(sql);
  if (duckdb_prepare(handle_, text.c_str(), &handle) == DuckDBError) {
    const char* message = duckdb_prepare_error(handle);
    absl::Status status =
        absl::InvalidArgumentError(message != nullptr ? message : "prepare failed");
    // Catalog errors (unknown table or column) are NotFound, as from Query.
    if (message != nullptr && std::strncmp(message, "Catalog Error", 13) == 0) {
      status = absl::NotFoundError(message);
    }
    duckdb_destroy_prepare(&handle);
    return status;
  }
  return std::unique_ptr<PreparedStatement>(new PreparedStatement(handle));
}

absl::Status Connection::Parse(std::string_view sql) {
  std::string text(sql);
  duckdb_extracted_statements statements = nullptr;
  idx_t count = duckdb_extract_statements(handle_, text.c_str(), &statements);
  absl::Status status = absl::OkStatus();
  if (count == 0) {
    const char* message = duckdb_extract_statements_error(statements);
    status = absl::InvalidArgumentError(message != nullptr ? message : "cannot parse SQL");
  }
  duckdb_destroy_extracted(&statements);
  return status;
}

absl::StatusOr<std::vector<std::string>> Connection::ReferencedTables(std::string_view sql) {
  std::string text(sql);
  duckdb_value names = duckdb_get_table_names(handle_, text.c_str(), /*qualified=*/true);
  if (names == nullptr) return absl::InvalidArgumentError("cannot parse SQL");
  std::vector<std::string> out;
  idx_t count = duckdb_get_list_size(names);
  for (idx_t i = 0; i < count; ++i) {
    duckdb_value child = duckdb_get_list_child(names, i);
    char* text_value = duckdb_get_varchar(child);
    out.emplace_back(text_value);
    duckdb_free(text_value);
    duckdb_destroy_value(&child);
  }
  duckdb_destroy_value(&names);
  return out;
}

absl::StatusOr<std::unique_ptr<Appender>> Connection::OpenAppender(const std::string& schema,
                                                                   const std::string& table) {
  duckdb_appender handle = nullptr;
  if (duckdb_appender_create(handle_, schema.c_str(), table.c_str(), &handle) == DuckDBError) {
    const char* message = duckdb_appender_error(handle);
    absl::Status status = absl::NotFoundError(fmt::format(
        "cannot append to {}.{}: {}", schema, table, message != nullptr ? message : ""));
    duckdb_appender_destroy(&handle);
    return status;
  }
  return std::unique_ptr<Appender>(new Appender(handle));
}

absl::StatusOr<std::unique_ptr<Appender>> Connection::OpenQueryAppender(const std::string& query,
                                                                        const DataChunk& shape) {
  size_t columns = shape.ColumnCount();
  std::vector<duckdb_logical_type> types(columns);
  for (size_t i = 0; i < columns; ++i) {
    types[i] = duckdb_vector_get_column_type(duckdb_data_chunk_get_vector(shape.handle_, i));
  }
  duckdb_appender handle = nullptr;
  duckdb_state state = duckdb_appender_create_query(handle_, query.c_str(), columns, types.data(),
                                                    nullptr, nullptr, &handle);
  for (auto& type : types) duckdb_destroy_logical_type(&type);
  if (state == DuckDBError) {
    const char* message = handle != nullptr ? duckdb_appender_error(handle) : nullptr;
    absl::Status status = absl::InvalidArgumentError(fmt::format(
        "cannot append into query: {}", message != nullptr ? message : "unknown error"));
    duckdb_appender_destroy(&handle);
    return status;
  }
  return std::unique_ptr<Appender>(new Appender(handle));
}

absl::StatusOr<ArrowBatch> Connection::ToArrow(Result& result, DataChunk& chunk) {
  ArrowBatch batch;
  duckdb_arrow_options options = duckdb_result_get_arrow_options(&result.state_->result);
  size_t columns = result.ColumnCount();
  std::vector<duckdb_logical_type> types(columns);
  std::vector<std::string> names(columns);
  std::vector<const char*> name_ptrs(columns);
  for (size_t i = 0; i < columns; ++i) {
    types[i] = duckdb_column_logical_type(&result.state_->result, i);
    names[i] = result.ColumnName(i);
    name_ptrs[i] = names[i].c_str();
  }
  absl::Status status = ConsumeErrorData(
      duckdb_to_arrow_schema(options, types.data(), name_ptrs.data(), columns, batch.schema()));
  for (auto& type : types) duckdb_destroy_logical_type(&type);
  if (status.ok()) {
    status = ConsumeErrorData(duckdb_data_chunk_to_arrow(options, chunk.handle_, batch.array()));
  }
  duckdb_destroy_arrow_options(&options);
  if (!status.ok()) return status;
  return batch;
}

absl::StatusOr<std::unique_ptr<DataChunk>> Connection::FromArrow(ArrowBatch& batch) {
  duckdb_arrow_converted_schema converted = nullptr;
  absl::Status status =
      ConsumeErrorData(duckdb_schema_from_arrow(handle_, batch.schema(), &converted));
  if (!status.ok()) return status;
  duckdb_data_chunk chunk = nullptr;
  status =
      ConsumeErrorData(duckdb_data_chunk_from_arrow(handle_, batch.array(), converted, &chunk));
  duckdb_destroy_arrow_converted_schema(&converted);
  if (!status.ok()) return status;
  batch.array()->release = nullptr;  // the chunk owns the buffers now
  return std::unique_ptr<DataChunk>(new DataChunk(chunk));
}

void Connection::Interrupt() { duckdb_interrupt(handle_); }

double Connection::Progress() { return duckdb_query_progress(handle_).percentage; }

absl::StatusOr<std::optional<std::string>> QueryScalar(Connection& connection,
                                                       std::string_view sql) {
  auto result = connection.Query(sql);
  if (!result.ok()) return result.status();
  auto chunk = (*result)->Fetch();
  if (!chunk.ok()) return chunk.status();
  if (*chunk == nullptr || (*chunk)->RowCount() == 0 || (*chunk)->IsNull(0, 0)) {
    return std::optional<std::string>();
  }
  auto value = (*chunk)->GetString(0, 0);
  if (!value.ok()) return value.status();
  return std::optional<std::string>(std::move(*value));
}

}  // namespace shardlake::duck
