#include "catalog/index_entry.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {

const std::shared_ptr<nlohmann::json>& SharedJson::EmptyObject() {
  // Never destroyed (entries may be copied during shutdown); never written,
  // since its use count never drops to 1.
  static const auto* const empty = new std::shared_ptr<nlohmann::json>(
      std::make_shared<nlohmann::json>(nlohmann::json::object()));
  return *empty;
}

nlohmann::json& SharedJson::mutable_json() {
  if (value_.use_count() != 1) value_ = std::make_shared<nlohmann::json>(*value_);
  return *value_;
}
namespace {

using nlohmann::json;

absl::Status FieldError(std::string_view what, std::string_view field, const json& value) {
  return absl::InvalidArgumentError(
      fmt::format("JSON field '{}' must be {}, got {}", field, what, value.type_name()));
}

// The member `field` of `object`, or nullptr when it is absent or JSON null.
const json* FindField(const json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status ReadString(const json& object, const char* field, std::string* out) {
  const json* value = FindField(object, field);
  if (value == nullptr) return absl::OkStatus();
  if (!value->is_string()) return FieldError("a string", field, *value);
  *out = value->get_ref<const std::string&>();
  return absl::OkStatus();
}

// Accepts JSON integers in int64 range, and doubles with an integral value in
// int64 range (Lua's cjson re-encodes large integers that way).
absl::Status ReadInt64(const json& object, const char* field, int64_t* out) {
  const json* value = FindField(object, field);
  if (value == nullptr) return absl::OkStatus();
  if (value->is_number_integer() && !value->is_number_unsigned()) {
    *out = value->get<int64_t>();
    return absl::OkStatus();
  }
  if (value->is_number_unsigned()) {
    uint64_t u = value->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(
          fmt::format("JSON field '{}' is out of int64 range: {}", field, u));
    }
    *out = static_cast<int64_t>(u);
    return absl::OkStatus();
  }
  if (value->is_number_float()) {
    double d = value->get<double>();
    // 2^63 is exactly representable; int64 covers [-2^63, 2^63).
    if (!std::isfinite(d) || std::trunc(d) != d || d < -9223372036854775808.0 ||
        d >= 9223372036854775808.0) {
      return absl::InvalidArgumentError(
          fmt::format("JSON field '{}' must be an integer, got {}", field, value->dump()));
    }
    *out = static_cast<int64_t>(d);
    return absl::OkStatus();
  }
  return FieldError("an integer", field, *value);
}

// Reads a Redis-style decimal string ("str_min_time"); leaves `out` alone when
// the field is absent, null or empty.
absl::Status ReadDecimalString(const json& object, const char* field, int64_t* out) {
  const json* value = FindField(object, field);
  if (value == nullptr) return absl::OkStatus();
  if (!value->is_string()) return FieldError("a decimal string", field, *value);
  const std::string& text = value->get_ref<const std::string&>();
  if (text.empty()) return absl::OkStatus();
  int64_t parsed = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(
        fmt::format("JSON field '{}' must be a decimal int64, got '{}'", field, text));
  }
  *out = parsed;
  return absl::OkStatus();
}

absl::Status ReadStats(const json& object, const char* field, SharedJson* out) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) {  // GigAPI writes null for "no stats"
    *out = SharedJson();
    return absl::OkStatus();
  }
  if (!it->is_object()) return FieldError("an object", field, *it);
  *out = *it;
  return absl::OkStatus();
}

}  // namespace

nlohmann::json IndexEntryToJson(const IndexEntry& entry) {
  json out = json::object();
  out["layer"] = entry.layer;
  out["database"] = entry.database;
  out["table"] = entry.table;
  out["path"] = entry.path;
  out["size_bytes"] = entry.size_bytes;
  out["row_count"] = entry.row_count;
  out["chunk_time"] = entry.chunk_time;
  out["min"] = entry.min.json();
  out["max"] = entry.max.json();
  out["min_time"] = entry.min_time;
  out["max_time"] = entry.max_time;
  out["writer_id"] = entry.writer_id;
  return out;
}

absl::StatusOr<IndexEntry> IndexEntryFromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("an index entry must be a JSON object, got {}", json.type_name()));
  }
  IndexEntry entry;
  RETURN_IF_ERROR(ReadString(json, "layer", &entry.layer));
  RETURN_IF_ERROR(ReadString(json, "database", &entry.database));
  RETURN_IF_ERROR(ReadString(json, "table", &entry.table));
  if (FindField(json, "path") == nullptr) {
    return absl::InvalidArgumentError("JSON field 'path' is missing from the index entry");
  }
  RETURN_IF_ERROR(ReadString(json, "path", &entry.path));
  RETURN_IF_ERROR(ReadInt64(json, "size_bytes", &entry.size_bytes));
  RETURN_IF_ERROR(ReadInt64(json, "row_count", &entry.row_count));
  RETURN_IF_ERROR(ReadInt64(json, "chunk_time", &entry.chunk_time));
  RETURN_IF_ERROR(ReadStats(json, "min", &entry.min));
  RETURN_IF_ERROR(ReadStats(json, "max", &entry.max));
  RETURN_IF_ERROR(ReadInt64(json, "min_time", &entry.min_time));
  RETURN_IF_ERROR(ReadInt64(json, "max_time", &entry.max_time));
  RETURN_IF_ERROR(ReadString(json, "writer_id", &entry.writer_id));
  RETURN_IF_ERROR(ReadDecimalString(json, "str_min_time", &entry.min_time));
  RETURN_IF_ERROR(ReadDecimalString(json, "str_max_time", &entry.max_time));
  RETURN_IF_ERROR(ReadDecimalString(json, "str_chunk_time", &entry.chunk_time));
  return entry;
}

namespace {

// True if `token` follows JSON's number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view token) {
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < token.size() && std::isdigit(static_cast<unsigned char>(token[i]))) ++i;
    return i - start;
  };
  if (i < token.size() && token[i] == '-') ++i;
  if (i < token.size() && token[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  if (i < token.size() && token[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == token.size();
}

// A scanner for the flat JSON form of an entry. Every method returns false
// when the input is not of the simple form it handles (escapes, nesting,
// arrays, unusual numbers...), and the caller then takes the general path.
class FlatJson {
 public:
  explicit FlatJson(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char Peek() {
    SkipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }
  // A string without escapes or control characters.
  bool String(std::string_view* out) {
    if (!Consume('"')) return false;
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      // Escapes, control characters and non-ASCII (UTF-8 to validate) take
      // the general path.
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
      ++pos_;
    }
    if (pos_ >= text_.size()) return false;
    *out = text_.substr(start, pos_ - start);
    ++pos_;
    return true;
  }
  // A number: an int64 literal, or a finite double (with '.', 'e' or 'E').
  bool Number(json* out, bool* is_integer) {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-' ||
            text_[pos_] == '+' || text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
    }
    std::string_view token = text_.substr(start, pos_ - start);
    if (!IsJsonNumber(token)) return false;
    const char* end = token.data() + token.size();
    if (token.find_first_of(".eE") == std::string_view::npos) {
      int64_t value = 0;
      auto [ptr, ec] = std::from_chars(token.data(), end, value);
      if (ec != std::errc() || ptr != end) return false;
      *out = value;
      *is_integer = true;
      return true;
    }
    double value = 0;
    auto [ptr, ec] = std::from_chars(token.data(), end, value);
    if (ec != std::errc() || ptr != end || !std::isfinite(value)) return false;
    *out = value;
    *is_integer = false;
    return true;
  }
  bool Literal(std::string_view word) {
    SkipSpace();
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  // Any scalar value, as json.
  bool Scalar(json* out) {
    char c = Peek();
    if (c == '"') {
      std::string_view s;
      if (!String(&s)) return false;
      *out = std::string(s);
      return true;
    }
    if (c == 't') return Literal("true") && (*out = true, true);
    if (c == 'f') return Literal("false") && (*out = false, true);
    if (c == 'n') return Literal("null") && (*out = nullptr, true);
    bool is_integer = false;
    return Number(out, &is_integer);
  }
  // A flat object of scalars.
  bool FlatObject(json* out) {
    if (!Consume('{')) return false;
    *out = json::object();
    if (Consume('}')) return true;
    do {
      std::string_view key;
      json value;
      if (!String(&key) || !Consume(':') || !Scalar(&value)) return false;
      (*out)[std::string(key)] = std::move(value);
    } while (Consume(','));
    return Consume('}');
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

bool ParseDecimal(std::string_view text, int64_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// The fast path; false means "take the general path".
bool FlatEntryFromJsonText(std::string_view text, IndexEntry* entry) {
  FlatJson in(text);
  if (!in.Consume('{')) return false;
  bool has_path = false;
  std::string_view str_times[3];  // min, max, chunk
  if (!in.Consume('}')) {
    do {
      std::string_view key;
      if (!in.String(&key) || !in.Consume(':')) return false;
      std::string* string_field = key == "layer"       ? &entry->layer
                                  : key == "database"  ? &entry->database
                                  : key == "table"     ? &entry->table
                                  : key == "path"      ? &entry->path
                                  : key == "writer_id" ? &entry->writer_id
                                                       : nullptr;
      int64_t* int_field = key == "size_bytes"   ? &entry->size_bytes
                           : key == "row_count"  ? &entry->row_count
                           : key == "chunk_time" ? &entry->chunk_time
                           : key == "min_time"   ? &entry->min_time
                           : key == "max_time"   ? &entry->max_time
                                                 : nullptr;
      if (string_field != nullptr) {
        std::string_view value;
        if (!in.String(&value)) return false;
        *string_field = std::string(value);
        has_path = has_path || key == "path";
      } else if (int_field != nullptr) {
        json value;
        bool is_integer = false;
        if (!in.Number(&value, &is_integer) || !is_integer) return false;
        *int_field = value.get<int64_t>();
      } else if (key == "min" || key == "max") {
        SharedJson* stats = key == "min" ? &entry->min : &entry->max;
        json flat;
        if (in.Peek() != '{' || !in.FlatObject(&flat)) return false;
        *stats = std::move(flat);
      } else if (key == "str_min_time" || key == "str_max_time" || key == "str_chunk_time") {
        std::string_view value;
        if (!in.String(&value)) return false;
        str_times[key == "str_min_time" ? 0 : key == "str_max_time" ? 1 : 2] = value;
      } else if (key == "cmd" || key == "time_s") {
        json ignored;
        if (!in.Scalar(&ignored)) return false;
      } else {
        return false;  // unknown fields: let the general path decide
      }
    } while (in.Consume(','));
    if (!in.Consume('}')) return false;
  }
  if (!in.AtEnd() || !has_path) return false;
  int64_t* targets[3] = {&entry->min_time, &entry->max_time, &entry->chunk_time};
  for (int i = 0; i < 3; ++i) {
    if (str_times[i].empty()) continue;
    if (!ParseDecimal(str_times[i], targets[i])) return false;
  }
  return true;
}

}  // namespace

nlohmann::json ParseStatsJson(std::string_view text) {
  if (text == "{}") return json::object();
  json flat;
  FlatJson in(text);
  if (in.Peek() == '{' && in.FlatObject(&flat) && in.AtEnd()) return flat;
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

absl::StatusOr<IndexEntry> IndexEntryFromJsonText(std::string_view text) {
  IndexEntry entry;
  if (FlatEntryFromJsonText(text, &entry)) return entry;
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  return IndexEntryFromJson(parsed);
}

std::string FolderOfPath(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return path.substr(0, slash);
}

int IterationOfPath(const std::string& path) {
  static constexpr std::string_view kSuffix = ".parquet";
  std::string_view name = path;
  if (size_t slash = name.rfind('/'); slash != std::string_view::npos) {
    name.remove_prefix(slash + 1);
  }
  if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return 0;
  }
  name.remove_suffix(kSuffix.size());  // "<uuid>.N"
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return 0;
  std::string_view digits = name.substr(dot + 1);
  if (digits.empty()) return 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return 0;
  }
  int iteration = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), iteration);
  if (ec != std::errc() || end != digits.data() + digits.size()) return 0;
  return iteration;
}

int TableSchema::ColumnIndex(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

nlohmann::json TableSchemaToJson(const TableSchema& schema) {
  json columns = json::array();
  for (const ColumnDef& column : schema.columns) {
    columns.push_back(json{{"name", column.name}, {"type", column.type}});
  }
  json out = json::object();
  out["database"] = schema.database;
  out["table"] = schema.table;
  out["columns"] = std::move(columns);
  out["time_column"] = schema.time_column;
  out["version"] = schema.version;
  out["created_at"] = schema.created_at;
  return out;
}

absl::StatusOr<TableSchema> TableSchemaFromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("a table schema must be a JSON object, got {}", json.type_name()));
  }
  TableSchema schema;
  for (const char* required : {"database", "table", "columns"}) {
    if (FindField(json, required) == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("JSON field '{}' is missing from the table schema", required));
    }
  }
  RETURN_IF_ERROR(ReadString(json, "database", &schema.database));
  RETURN_IF_ERROR(ReadString(json, "table", &schema.table));
  const nlohmann::json& columns = *FindField(json, "columns");
  if (!columns.is_array()) return FieldError("an array", "columns", columns);
  for (size_t i = 0; i < columns.size(); ++i) {
    const nlohmann::json& column = columns[i];
    std::string field = fmt::format("columns[{}]", i);
    if (!column.is_object()) return FieldError("an object", field, column);
    ColumnDef def;
    for (const char* key : {"name", "type"}) {
      const nlohmann::json* value = FindField(column, key);
      std::string name = fmt::format("{}.{}", field, key);
      if (value == nullptr) {
        return absl::InvalidArgumentError(fmt::format("JSON field '{}' is missing", name));
      }
      if (!value->is_string()) return FieldError("a string", name, *value);
      (std::string_view(key) == "name" ? def.name : def.type) =
          value->get_ref<const std::string&>();
    }
    schema.columns.push_back(std::move(def));
  }
  RETURN_IF_ERROR(ReadString(json, "time_column", &schema.time_column));
  RETURN_IF_ERROR(ReadInt64(json, "version", &schema.version));
  RETURN_IF_ERROR(ReadInt64(json, "created_at", &schema.created_at));
  return schema;
}

}  // namespace shardlake
