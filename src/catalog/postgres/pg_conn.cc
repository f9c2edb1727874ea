#include "catalog/postgres/pg_conn.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "fmt/format.h"

namespace shardlake::pg {
namespace {

constexpr auto kPoolWait = std::chrono::seconds(60);

bool DebugQueriesEnabled() {
  const char* value = std::getenv("SHARDLAKE_DEBUG_QUERIES");
  return value != nullptr && std::strcmp(value, "1") == 0;
}

// The first line of a libpq message, trimmed.
std::string FirstLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  size_t newline = text.find('\n');
  std::string line(text.substr(0, newline));
  if (line.starts_with("ERROR:  ")) line.erase(0, 8);
  if (line.starts_with("FATAL:  ")) line.erase(0, 8);
  return line;
}

// The statement on one line, for SHARDLAKE_DEBUG_QUERIES.
std::string OneLine(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  bool space = false;
  for (char c : sql) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

absl::Status StatusFromCode(absl::StatusCode code, std::string message) {
  return absl::Status(code, message);
}

}  // namespace

int64_t Result::Int(int row, int column) const {
  std::string_view text = Text(row, column);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

int64_t Result::Affected() const {
  const char* text = PQcmdTuples(result_.get());
  int64_t value = 0;
  if (text != nullptr) std::from_chars(text, text + std::strlen(text), value);
  return value;
}

std::vector<const char*> Params::Pointers() const {
  std::vector<const char*> out(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) out[i] = nulls_[i] ? nullptr : values_[i].c_str();
  return out;
}

void ArrayBuilder::AddText(std::string_view text) {
  if (count_++ > 0) out_.push_back(',');
  out_.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') out_.push_back('\\');
    out_.push_back(c);
  }
  out_.push_back('"');
}

void ArrayBuilder::AddInt(int64_t value) {
  if (count_++ > 0) out_.push_back(',');
  fmt::format_int digits(value);
  out_.append(digits.data(), digits.size());
}

std::string ArrayBuilder::Finish() && {
  out_.push_back('}');
  return std::move(out_);
}

absl::StatusOr<ConnectOptions> ConnectOptionsFromUri(const Uri& uri) {
  ConnectOptions options;
  options.describe = uri.Redacted();
  auto& params = options.params;
  if (!uri.host.empty()) params.emplace_back("host", uri.host);
  if (uri.port != 0) params.emplace_back("port", std::to_string(uri.port));
  if (!uri.userinfo.empty()) {
    size_t colon = uri.userinfo.find(':');
    params.emplace_back("user", uri.userinfo.substr(0, colon));
    if (colon != std::string::npos) params.emplace_back("password", uri.userinfo.substr(colon + 1));
  }
  std::string dbname = uri.path;
  while (!dbname.empty() && dbname.front() == '/') dbname.erase(0, 1);
  if (!dbname.empty()) params.emplace_back("dbname", dbname);
  bool has_timeout = false;
  bool has_application = false;
  for (const auto& [key, value] : uri.query) {
    if (key == "pool_size") {
      int size = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), size);
      if (ec != std::errc() || end != value.data() + value.size() || size < 1 || size > 64) {
        return absl::InvalidArgumentError(fmt::format(
            "'{}': pool_size must be an integer from 1 to 64 (got '{}')", options.describe, value));
      }
      options.pool_size = size;
      continue;
    }
    if (key == "connect_timeout") has_timeout = true;
    if (key == "application_name") has_application = true;
    params.emplace_back(key, value);
  }
  if (!has_timeout) params.emplace_back("connect_timeout", "5");
  if (!has_application) params.emplace_back("application_name", "shardlake");
  return options;
}

absl::StatusCode CodeForSqlState(std::string_view state) {
  if (state.size() != 5) return absl::StatusCode::kUnavailable;  // no SQLSTATE: connection lost
  std::string_view cls = state.substr(0, 2);
  if (state == "40001" || state == "40P01") return absl::StatusCode::kAborted;
  if (state == "42P01" || state == "3F000") return absl::StatusCode::kFailedPrecondition;
  if (state == "42501" || cls == "28") return absl::StatusCode::kPermissionDenied;
  if (state == "23505") return absl::StatusCode::kAlreadyExists;
  if (state == "57014") return absl::StatusCode::kDeadlineExceeded;
  if (state == "55P03") return absl::StatusCode::kUnavailable;  // lock_not_available
  if (cls == "08" || state.starts_with("57P") || state == "53300") {
    return absl::StatusCode::kUnavailable;
  }
  if (cls == "53") return absl::StatusCode::kResourceExhausted;
  if (cls == "22") return absl::StatusCode::kInvalidArgument;
  if (cls == "25" || cls == "55") return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectOptions& options,
                                                             CatalogStats* stats) {
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [key, value] : options.params) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  bool debug = DebugQueriesEnabled();
  if (debug) std::fprintf(stderr, "[shardlake catalog %s] connect\n", options.describe.c_str());
  if (stats != nullptr) stats->Count("connects");
  ConnHandle conn(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/0));
  if (conn == nullptr) {
    return absl::ResourceExhaustedError(
        fmt::format("{}: cannot connect: out of memory", options.describe));
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string message = FirstLine(PQerrorMessage(conn.get()));
    std::string text =
        fmt::format("{}: cannot connect to the PostgreSQL catalog: {}", options.describe, message);
    if (Contains(message, "password authentication failed") ||
        Contains(message, "no password supplied") || Contains(message, "authentication failed") ||
        Contains(message, "pg_hba.conf") ||
        (Contains(message, "role \"") && Contains(message, "does not exist"))) {
      return absl::PermissionDeniedError(text);
    }
    if (Contains(message, "database \"") && Contains(message, "does not exist")) {
      return absl::FailedPreconditionError(text + " (create the database first)");
    }
    if (Contains(message, "invalid connection option") || Contains(message, "invalid sslmode") ||
        Contains(message, "invalid integer value") || Contains(message, "invalid value for")) {
      return absl::InvalidArgumentError(text);
    }
    return absl::UnavailableError(text);
  }
  // Server notices ("table does not exist, skipping") are not errors.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  // Catalog text is compared byte-wise and exchanged as UTF-8.
  PQsetClientEncoding(conn.get(), "UTF8");
  return std::unique_ptr<Connection>(
      new Connection(std::move(conn), options.describe, debug, stats));
}

absl::StatusOr<Result> Connection::Exec(std::string_view what, const std::string& sql,
                                        const Params& params) {
  if (debug_) {
    std::string line = OneLine(sql);
    std::fprintf(stderr, "[shardlake catalog %s] %s\n", describe_.c_str(), line.c_str());
  }
  if (stats_ != nullptr) stats_->Count("statements");
  std::vector<const char*> values = params.Pointers();
  ResultHandle result(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()),
                                   nullptr, values.empty() ? nullptr : values.data(), nullptr,
                                   nullptr, /*resultFormat=*/0));
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Result(std::move(result));
  const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  std::string_view sqlstate = state != nullptr ? state : "";
  std::string message =
      FirstLine(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_.get()));
  if (message.empty()) message = FirstLine(PQerrorMessage(conn_.get()));
  absl::StatusCode code = broken() ? absl::StatusCode::kUnavailable : CodeForSqlState(sqlstate);
  std::string text = fmt::format("{}: {}: {}", describe_, what, message);
  if (!sqlstate.empty()) text += fmt::format(" (SQLSTATE {})", sqlstate);
  if (sqlstate == "42P01" || sqlstate == "3F000") {
    text += "; run `shardlake catalog init` to create the catalog schema";
  }
  return StatusFromCode(code, std::move(text));
}

Pool::Pool(ConnectOptions options, CatalogStats* stats)
    : options_(std::move(options)), stats_(stats) {}

Pool::~Pool() = default;

Pool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      conn_(std::move(other.conn_)),
      fresh_(other.fresh_) {}

Pool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Release(std::move(conn_));
}

void Pool::Lease::Discard() {
  if (pool_ != nullptr) std::exchange(pool_, nullptr)->Release(nullptr);
  conn_.reset();
}

absl::StatusOr<Pool::Lease> Pool::Acquire() {
  {
    std::unique_lock lock(mu_);
    bool got = freed_.wait_for(lock, kPoolWait,
                               [&] { return !idle_.empty() || open_ < options_.pool_size; });
    if (!got) {
      return absl::UnavailableError(fmt::format(
          "{}: no catalog connection became free within {} s (pool_size {})", options_.describe,
          std::chrono::duration_cast<std::chrono::seconds>(kPoolWait).count(), options_.pool_size));
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn), /*fresh=*/false);
    }
    ++open_;  // reserve the slot while connecting
  }
  auto conn = Connection::Open(options_, stats_);
  if (!conn.ok()) {
    std::lock_guard lock(mu_);
    --open_;
    freed_.notify_one();
    return conn.status();
  }
  return Lease(this, std::move(*conn), /*fresh=*/true);
}

void Pool::Release(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  if (conn != nullptr && !conn->broken() && conn->idle()) {
    idle_.push_back(std::move(conn));
  } else {
    conn.reset();
    --open_;
  }
  freed_.notify_one();
}

absl::Status Run(Pool& pool, std::string_view what, bool transaction,
                 const std::function<absl::Status(Connection&)>& body) {
  static thread_local std::minstd_rand rng(std::random_device{}());
  bool replaced_broken = false;
  absl::Status last;
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    auto lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    Connection& conn = **lease;
    bool commit_sent = false;
    absl::Status status;
    if (transaction) {
      auto begin = conn.Exec(what, "BEGIN");
      status = begin.status();
    }
    if (status.ok()) status = body(conn);
    if (status.ok() && transaction) {
      commit_sent = true;
      auto commit = conn.Exec(what, "COMMIT");
      status = commit.status();
    }
    if (status.ok()) return status;
    bool broken = conn.broken();
    if (!broken && transaction && !conn.idle()) {
      (void)conn.Exec(what, "ROLLBACK");
    }
    if (broken) {
      lease->Discard();
      if (pool.stats() != nullptr) pool.stats()->Count("broken_connections");
      // Before COMMIT the server rolls the transaction back, so one retry on
      // a new connection is safe (a pooled connection may have gone stale).
      if (!commit_sent && !replaced_broken) {
        replaced_broken = true;
        continue;
      }
      return absl::UnavailableError(std::string(status.message()));
    }
    if (status.code() != absl::StatusCode::kAborted) return status;
    last = status;
    if (pool.stats() != nullptr) pool.stats()->Count("retries");
    if (attempt < kMaxAttempts) {
      int base_ms = 5 << (attempt - 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(
          base_ms + static_cast<int>(rng() % static_cast<unsigned>(base_ms))));
    }
  }
  return absl::AbortedError(
      fmt::format("{} (gave up after {} attempts)", std::string(last.message()), kMaxAttempts));
}

}  // namespace shardlake::pg
