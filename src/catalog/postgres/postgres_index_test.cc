// Tests of the PostgreSQL catalog backend against a real PostgreSQL 15 started
// in a temp dir (initdb + pg_ctl, as the `postgres` user when run as root; see
// postgres_test_server.h):
// the Index conformance suite plus PostgreSQL-specific faults, migrations,
// query plans, lease races and query logging.
#include "catalog/postgres/postgres_index.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "catalog/cache_conformance.h"
#include "catalog/catalog_stats.h"
#include "catalog/index_conformance.h"
#include "catalog/postgres/pg_conn.h"
#include "catalog/postgres/postgres_test_server.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

using PgServer = PostgresTestServer;
constexpr const char* kPassword = PostgresTestServer::kPassword;

int FreePort() { return PostgresTestServer::FreePort(); }

PgServer* g_server = nullptr;
absl::Status g_server_status;

// The server of this test process, started on first use.
absl::StatusOr<PgServer*> Server() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_server = new PgServer();
    g_server_status = g_server->Start();
    // A test that dies through std::terminate (e.g. a joinable thread left
    // behind by a failed ASSERT) still stops its server.
    std::set_terminate([] {
      if (g_server != nullptr) g_server->Stop();
      std::abort();
    });
  });
  if (!g_server_status.ok()) return g_server_status;
  return g_server;
}

class StopServer : public ::testing::Environment {
 public:
  void TearDown() override {
    if (g_server != nullptr) g_server->Stop();
  }
};
[[maybe_unused]] ::testing::Environment* const g_stop_env =
    ::testing::AddGlobalTestEnvironment(new StopServer);

// Databases created for the current test, dropped by cleanup.
std::vector<std::string>& Databases() {
  static std::vector<std::string> names;
  return names;
}

absl::StatusOr<std::string> FreshDatabase() {
  ASSIGN_OR_RETURN(PgServer * server, Server());
  ASSIGN_OR_RETURN(std::string name, server->FreshDatabase());
  Databases().push_back(name);
  return name;
}

void DropDatabases() {
  if (g_server == nullptr) return;
  for (const std::string& name : Databases()) {
    (void)g_server->Sql(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name));
  }
  Databases().clear();
}

// The URI of the catalog of the current test (FreshCatalog).
std::string& CurrentCatalog() {
  static std::string uri;
  return uri;
}

absl::Status FreshCatalog() {
  ASSIGN_OR_RETURN(std::string name, FreshDatabase());
  ASSIGN_OR_RETURN(Uri uri, ParseUri((*Server())->UriFor(name)));
  RETURN_IF_ERROR(InitPostgresCatalog(uri).status());
  CurrentCatalog() = uri.original;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Index>> OpenCurrent(bool cache) {
  IndexOptions options;
  options.cache = cache;
  return OpenIndex(CurrentCatalog(), options);
}

absl::StatusOr<std::unique_ptr<Index>> OpenFreshPostgres() {
  RETURN_IF_ERROR(FreshCatalog());
  return OpenCurrent(/*cache=*/false);
}

absl::StatusOr<std::unique_ptr<Index>> OpenFreshCachedPostgres() {
  RETURN_IF_ERROR(FreshCatalog());
  return OpenCurrent(/*cache=*/true);
}

std::vector<IndexBackend> Backends() {
  return {IndexBackend{"postgresql", OpenFreshPostgres, DropDatabases},
          IndexBackend{"cached_postgresql", OpenFreshCachedPostgres, DropDatabases}};
}
INSTANTIATE_TEST_SUITE_P(Postgres, IndexConformanceTest, ::testing::ValuesIn(Backends()),
                         IndexBackendName);
INSTANTIATE_TEST_SUITE_P(Postgres, MergePlanTest, ::testing::ValuesIn(Backends()),
                         IndexBackendName);
INSTANTIATE_TEST_SUITE_P(Postgres, CacheConformanceTest,
                         ::testing::Values(CacheBackend{"postgresql", FreshCatalog,
                                                        [] { return OpenCurrent(false); },
                                                        DropDatabases}),
                         CacheBackendName);

class PostgresIndexTest : public ::testing::Test {
 protected:
  static constexpr int64_t kSecond = 1'000'000'000;
  static constexpr int64_t kT0 = 1'767'225'600 * kSecond;  // 2026-01-01T00:00:00Z

  void SetUp() override {
    auto server = Server();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *server;
    auto name = FreshDatabase();
    ASSERT_TRUE(name.ok()) << name.status();
    database_ = *name;
    uri_text_ = server_->UriFor(database_);
    uri_ = *ParseUri(uri_text_);
  }
  void TearDown() override { DropDatabases(); }

  static IndexEntry Entry(const std::string& path, int64_t min_time, int64_t max_time,
                          int64_t size = 1000) {
    IndexEntry e;
    e.database = "db";
    e.table = "t";
    e.path = path;
    e.size_bytes = size;
    e.row_count = 10;
    e.chunk_time = max_time;
    e.min_time = min_time;
    e.max_time = max_time;
    e.min = {{"value", 1}, {"host", "a"}};
    e.max = {{"value", 2}, {"host", "z"}};
    e.writer_id = "w";
    return e;
  }

  // Uncached: some tests look at the PostgreSQL backend itself.
  std::unique_ptr<Index> MustOpen(const std::string& query = "") {
    IndexOptions options;
    options.cache = false;
    auto index = OpenIndex(uri_text_ + query, options);
    EXPECT_TRUE(index.ok()) << index.status();
    return index.ok() ? std::move(*index) : nullptr;
  }

  PgServer* server_ = nullptr;
  std::string database_;
  std::string uri_text_;
  Uri uri_;
};

TEST_F(PostgresIndexTest, BadPasswordIsPermissionDeniedWithoutThePassword) {
  auto index = OpenIndex(server_->UriFor(database_, "wrong-Pw"));
  ASSERT_FALSE(index.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(index.status())) << index.status();
  std::string message(index.status().message());
  EXPECT_NE(message.find(fmt::format("postgresql://postgres:***@127.0.0.1:{}/{}", server_->port(),
                                     database_)),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("wrong-Pw"), std::string::npos) << message;
  // Admin commands too.
  auto status = PostgresCatalogStatus(*ParseUri(server_->UriFor(database_, "wrong-Pw")));
  EXPECT_TRUE(absl::IsPermissionDenied(status.status())) << status.status();
}

TEST_F(PostgresIndexTest, UnreachableServerIsUnavailable) {
  int port = FreePort();
  std::string uri = fmt::format("postgresql://postgres:{}@127.0.0.1:{}/db", kPassword, port);
  auto start = std::chrono::steady_clock::now();
  auto index = OpenIndex(uri);
  ASSERT_FALSE(index.ok());
  EXPECT_TRUE(absl::IsUnavailable(index.status())) << index.status();
  std::string message(index.status().message());
  EXPECT_NE(message.find(fmt::format("postgresql://postgres:***@127.0.0.1:{}/db", port)),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find(kPassword), std::string::npos) << message;
  // An address that never answers: bounded by connect_timeout.
  auto blackhole = OpenIndex(
      fmt::format("postgres://postgres:{}@10.255.255.1:5432/db?connect_timeout=1", kPassword));
  ASSERT_FALSE(blackhole.ok());
  EXPECT_TRUE(absl::IsUnavailable(blackhole.status())) << blackhole.status();
  EXPECT_EQ(std::string(blackhole.status().message()).find(kPassword), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
}

TEST_F(PostgresIndexTest, LibpqOptionsPassThrough) {
  // sslmode=disable is valid (the test server has no TLS); require is refused by the server.
  auto plain = OpenIndex(server_->UriFor(database_, kPassword, "?sslmode=disable"));
  EXPECT_TRUE(absl::IsFailedPrecondition(plain.status())) << plain.status();  // no schema yet
  auto tls = OpenIndex(server_->UriFor(database_, kPassword, "?sslmode=require"));
  EXPECT_TRUE(absl::IsUnavailable(tls.status())) << tls.status();
  auto bogus = OpenIndex(server_->UriFor(database_, kPassword, "?no_such_option=1"));
  EXPECT_TRUE(absl::IsInvalidArgument(bogus.status())) << bogus.status();
  auto pool = OpenIndex(server_->UriFor(database_, kPassword, "?pool_size=0"));
  EXPECT_TRUE(absl::IsInvalidArgument(pool.status())) << pool.status();
}

TEST_F(PostgresIndexTest, MissingSchemaOrDatabaseIsFailedPrecondition) {
  auto index = OpenIndex(uri_text_);
  ASSERT_FALSE(index.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(index.status())) << index.status();
  EXPECT_NE(index.status().message().find("shardlake catalog init"), absl::string_view::npos)
      << index.status();
  EXPECT_EQ(index.status().message().find(kPassword), absl::string_view::npos);
  auto status = PostgresCatalogStatus(uri_);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->current_version, 0);
  EXPECT_EQ(status->pending.size(), static_cast<size_t>(PostgresLatestSchemaVersion()));
  // migrate does not create a schema.
  EXPECT_TRUE(absl::IsFailedPrecondition(MigratePostgresCatalog(uri_).status()));
  auto no_db = OpenIndex(server_->UriFor("no_such_db"));
  EXPECT_TRUE(absl::IsFailedPrecondition(no_db.status())) << no_db.status();
}

TEST_F(PostgresIndexTest, SchemaDroppedUnderAnOpenIndexSaysInit) {
  ASSERT_TRUE(InitPostgresCatalog(uri_).ok());
  auto index = MustOpen();
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(DropPostgresCatalog(uri_).ok());
  auto query = index->Query("db", "t", {});
  EXPECT_TRUE(absl::IsFailedPrecondition(query.status())) << query.status();
  EXPECT_NE(query.status().message().find("shardlake catalog init"), absl::string_view::npos);
}

TEST_F(PostgresIndexTest, InitMigrateStatusDropRoundTrip) {
  const int latest = PostgresLatestSchemaVersion();
  ASSERT_GE(latest, 2);
  auto init = InitPostgresCatalog(uri_, 1);
  ASSERT_TRUE(init.ok()) << init.status();
  auto status = PostgresCatalogStatus(uri_);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->current_version, 1);
  EXPECT_EQ(status->latest_version, latest);
  EXPECT_EQ(status->pending.size(), static_cast<size_t>(latest - 1));
  // An outdated schema is not migrated silently.
  auto outdated = OpenIndex(uri_text_);
  EXPECT_TRUE(absl::IsFailedPrecondition(outdated.status())) << outdated.status();
  EXPECT_NE(outdated.status().message().find("shardlake catalog migrate"), absl::string_view::npos)
      << outdated.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(InitPostgresCatalog(uri_).status()));
  auto migrated = MigratePostgresCatalog(uri_);
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  EXPECT_EQ(migrated->current_version, latest);
  EXPECT_EQ(migrated->pending.size(), static_cast<size_t>(latest - 1));  // what was applied
  auto again = MigratePostgresCatalog(uri_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->pending.empty());
  {
    auto index = MustOpen();
    ASSERT_NE(index, nullptr);
    ASSERT_TRUE(index->Batch({Entry("a.1.parquet", kT0, kT0 + 1)}, {}).ok());
    EXPECT_TRUE(index->Get("db", "t", "a.1.parquet").ok());
  }
  // init at the latest version is idempotent and keeps the data.
  ASSERT_TRUE(InitPostgresCatalog(uri_).ok());
  {
    auto index = MustOpen();
    ASSERT_NE(index, nullptr);
    EXPECT_TRUE(index->Get("db", "t", "a.1.parquet").ok());
  }
  ASSERT_TRUE(DropPostgresCatalog(uri_).ok());
  ASSERT_TRUE(DropPostgresCatalog(uri_).ok());  // nothing left: still fine
  status = PostgresCatalogStatus(uri_);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->current_version, 0);
  auto tables =
      server_->Sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'shardlake%'", database_);
  ASSERT_TRUE(tables.ok()) << tables.status();
  EXPECT_EQ(tables->Int(0, 0), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(OpenIndex(uri_text_).status()));
}

TEST_F(PostgresIndexTest, UnknownFutureVersionIsRefusedAndNothingChanges) {
  ASSERT_TRUE(InitPostgresCatalog(uri_).ok());
  {
    auto index = MustOpen();
    ASSERT_NE(index, nullptr);
    ASSERT_TRUE(index->Batch({Entry("keep.1.parquet", kT0, kT0 + 1)}, {}).ok());
  }
  ASSERT_TRUE(server_
                  ->Sql("INSERT INTO shardlake_schema_version (version, description) VALUES "
                        "(999, 'from the future')",
                        database_)
                  .ok());
  auto count_objects = [&] {
    auto r = server_->Sql(
        "SELECT (SELECT count(*) FROM pg_class WHERE relname LIKE 'shardlake%') * 1000000 + "
        "(SELECT count(*) FROM shardlake_schema_version) * 1000 + "
        "(SELECT count(*) FROM shardlake_files)",
        database_);
    return r.ok() ? r->Int(0, 0) : -1;
  };
  int64_t before = count_objects();
  ASSERT_GT(before, 0);
  auto migrate = MigratePostgresCatalog(uri_);
  ASSERT_TRUE(absl::IsFailedPrecondition(migrate.status())) << migrate.status();
  EXPECT_NE(migrate.status().message().find("999"), absl::string_view::npos);
  EXPECT_NE(migrate.status().message().find("upgrade shardlake"), absl::string_view::npos);
  EXPECT_EQ(migrate.status().message().find(kPassword), absl::string_view::npos);
  EXPECT_TRUE(absl::IsFailedPrecondition(InitPostgresCatalog(uri_).status()));
  auto open = OpenIndex(uri_text_);
  EXPECT_TRUE(absl::IsFailedPrecondition(open.status())) << open.status();
  EXPECT_EQ(count_objects(), before);
  auto status = PostgresCatalogStatus(uri_);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->current_version, 999);
}

TEST_F(PostgresIndexTest, BigBatchThroughputAndTimeRangeQueryUsesTheIndex) {
  ASSERT_TRUE(InitPostgresCatalog(uri_).ok());
  auto index = MustOpen();
  ASSERT_NE(index, nullptr);
  // 100,000 files, one per 15 s (5,760 a day), in hour folders.
  constexpr int kFiles = 100'000;
  constexpr int64_t kStep = 15 * kSecond;
  constexpr int64_t kDay = 86'400 * kSecond;
  std::vector<IndexEntry> add;
  add.reserve(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    int64_t t = kT0 + i * kStep;
    int64_t day = (t - kT0) / kDay;
    int64_t hour = ((t - kT0) % kDay) / (3600 * kSecond);
    add.push_back(
        Entry(fmt::format("date=2026-01-{:02}/hour={:02}/{:08}.1.parquet", day + 1, hour, i), t,
              t + kStep - 1));
  }
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(index->Batch(add, {}).ok());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ postgres ] batch of %d entries: %.2f s, %.0f entries/s\n", kFiles, seconds,
              kFiles / seconds);
  EXPECT_GT(kFiles / seconds, 5000.0);  // goal 20k/s; loose bound for a shared machine

  ASSERT_TRUE(server_->Sql("ANALYZE", database_).ok());
  QueryOptions day;
  day.after = kT0 + 3 * kDay;
  day.before = kT0 + 4 * kDay - 1;
  auto plan = ExplainPostgresQuery(*index, "db", "t", day);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_NE(plan->find("shardlake_files_by_time"), std::string::npos) << *plan;
  EXPECT_TRUE(plan->find("Index Scan") != std::string::npos ||
              plan->find("Bitmap Index Scan") != std::string::npos)
      << *plan;
  EXPECT_EQ(plan->find("Seq Scan on shardlake_files"), std::string::npos) << *plan;

  // One day: 5,760 files (none crosses midnight).
  std::vector<IndexEntry> result;
  double best_ms = 1e9;
  for (int round = 0; round < 5; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    auto got = index->Query("db", "t", day);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(got.ok()) << got.status();
    best_ms = std::min(best_ms, ms);
    result = std::move(*got);
  }
  std::printf("[ postgres ] query of one day (%zu entries): best of 5 %.1f ms\n", result.size(),
              best_ms);
  EXPECT_EQ(result.size(), 5760u);
  EXPECT_TRUE(
      std::is_sorted(result.begin(), result.end(),
                     [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; }));

  // Removing everything in one batch is one transaction too.
  std::vector<IndexEntry> remove;
  for (const IndexEntry& e : add) {
    IndexEntry ref;
    ref.database = e.database;
    ref.table = e.table;
    ref.path = e.path;
    remove.push_back(std::move(ref));
  }
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(index->Batch({}, remove).ok());
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ postgres ] removing %d entries: %.2f s\n", kFiles, seconds);
  EXPECT_TRUE(index->ListFolders("db", "t")->empty());
}

TEST_F(PostgresIndexTest, ConcurrentLeasesNeverShareAFile) {
  ASSERT_TRUE(InitPostgresCatalog(uri_).ok());
  constexpr int kFolders = 10;
  constexpr int kPerFolder = 30;
  {
    auto index = MustOpen();
    ASSERT_NE(index, nullptr);
    std::vector<IndexEntry> add;
    for (int f = 0; f < kFolders; ++f) {
      for (int i = 0; i < kPerFolder; ++i) {
        // 40 MiB each: at most two per 100 MiB plan.
        add.push_back(Entry(fmt::format("date=2026-01-01/hour={:02}/f{:03}.1.parquet", f, i),
                            kT0 + i, kT0 + i + 1, 40LL << 20));
      }
    }
    ASSERT_TRUE(index->Batch(add, {}).ok());
  }
  constexpr int kCompactors = 6;
  std::mutex mu;
  std::vector<std::string> leased;
  std::atomic<int> errors{0};
  std::latch start(kCompactors);
  std::vector<std::thread> threads;
  for (int c = 0; c < kCompactors; ++c) {
    threads.emplace_back([&, c] {
      // Each compactor has its own index (its own connections), as separate
      // processes would.
      auto index = OpenIndex(uri_text_);
      if (!index.ok()) {
        ++errors;
        start.count_down();
        return;
      }
      start.arrive_and_wait();
      LeaseRequest request;
      request.writer_id = fmt::format("compactor-{}", c);
      request.now_ns = kT0 + 3600 * kSecond;
      while (true) {
        auto plan = (*index)->LeaseMergePlan("db", "t", request);
        if (!plan.ok()) {
          ++errors;
          ADD_FAILURE() << plan.status();
          return;
        }
        if (!*plan) return;
        std::lock_guard lock(mu);
        for (const std::string& path : (*plan)->sources) leased.push_back(path);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  std::set<std::string> distinct(leased.begin(), leased.end());
  EXPECT_EQ(distinct.size(), leased.size()) << "a file was leased twice";
  EXPECT_EQ(leased.size(), static_cast<size_t>(kFolders * kPerFolder));
}

TEST_F(PostgresIndexTest, DebugQueriesLogsStatementsButNeverThePassword) {
  ASSERT_TRUE(InitPostgresCatalog(uri_).ok());
  setenv("SHARDLAKE_DEBUG_QUERIES", "1", 1);
  ::testing::internal::CaptureStderr();
  {
    auto index = OpenIndex(uri_text_);
    if (index.ok()) {
      (void)(*index)->Batch({Entry("a.1.parquet", kT0, kT0 + 1)}, {});
      (void)(*index)->Query("db", "t", {});
    }
  }
  (void)OpenIndex(server_->UriFor(database_, "wrong-Pw"));
  std::string log = ::testing::internal::GetCapturedStderr();
  unsetenv("SHARDLAKE_DEBUG_QUERIES");
  EXPECT_NE(log.find("INSERT INTO shardlake_files"), std::string::npos) << log;
  EXPECT_NE(log.find("SELECT path, layer"), std::string::npos) << log;
  EXPECT_NE(log.find("postgresql://postgres:***@"), std::string::npos) << log;
  EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  EXPECT_EQ(log.find("wrong-Pw"), std::string::npos) << log;
  // One line per statement.
  for (size_t at = 0; (at = log.find("[shardlake catalog", at)) != std::string::npos; ++at) {
    EXPECT_TRUE(at == 0 || log[at - 1] == '\n');
  }
}

TEST_F(PostgresIndexTest, ReconnectsAfterTheServerDropsConnections) {
  ASSERT_TRUE(InitPostgresCatalog(uri_).ok());
  auto index = MustOpen();
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(index->Batch({Entry("a.1.parquet", kT0, kT0 + 1)}, {}).ok());
  ASSERT_TRUE(index->Query("db", "t", {}).ok());
  auto killed =
      server_->Sql(fmt::format("SELECT count(pg_terminate_backend(pid)) FROM "
                               "pg_stat_activity WHERE datname = '{}' AND pid <> "
                               "pg_backend_pid()",
                               database_));
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_GE(killed->Int(0, 0), 1);
  auto query = index->Query("db", "t", {});
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_EQ(query->size(), 1u);
  (void)server_->Sql(
      fmt::format("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                  "WHERE datname = '{}' AND pid <> pg_backend_pid()",
                  database_));
  EXPECT_TRUE(index->Batch({Entry("b.1.parquet", kT0, kT0 + 1)}, {}).ok());
  EXPECT_GE(CatalogStats::For(index->Describe()).Counter("broken_connections"), 1);
}

TEST_F(PostgresIndexTest, StatsCountCallsPerBackend) {
  ASSERT_TRUE(InitPostgresCatalog(uri_).ok());
  auto index = MustOpen();
  ASSERT_NE(index, nullptr);
  CatalogStats& stats = CatalogStats::For(index->Describe());
  int64_t before = stats.Calls("Get");
  EXPECT_TRUE(absl::IsNotFound(index->Get("db", "t", "nope.1.parquet").status()));
  EXPECT_EQ(stats.Calls("Get"), before + 1);
  std::string json = stats.ToJson();
  EXPECT_NE(json.find("\"Get\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"p99_ms\""), std::string::npos) << json;
  EXPECT_EQ(json.find(kPassword), std::string::npos) << json;
}

TEST(PostgresErrorsTest, SqlStatesMapToStatusCodes) {
  EXPECT_EQ(pg::CodeForSqlState("40001"), absl::StatusCode::kAborted);  // serialization
  EXPECT_EQ(pg::CodeForSqlState("40P01"), absl::StatusCode::kAborted);  // deadlock
  EXPECT_EQ(pg::CodeForSqlState("42P01"), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pg::CodeForSqlState("28P01"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(pg::CodeForSqlState("42501"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(pg::CodeForSqlState("08006"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pg::CodeForSqlState("57P01"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pg::CodeForSqlState("23505"), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(pg::CodeForSqlState("22021"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pg::CodeForSqlState(""), absl::StatusCode::kUnavailable);  // connection lost
}

TEST_F(PostgresIndexTest, SerializationFailuresAreRetriedThenAborted) {
  ASSERT_TRUE(InitPostgresCatalog(uri_).ok());
  auto options = pg::ConnectOptionsFromUri(uri_);
  ASSERT_TRUE(options.ok());
  CatalogStats stats("test");
  pg::Pool pool(*options, &stats);
  // A real serialization failure from the server, twice, then success.
  int calls = 0;
  absl::Status status = pg::Run(pool, "test", true, [&](pg::Connection& conn) -> absl::Status {
    ++calls;
    if (calls <= 2) {
      return conn
          .Exec("test",
                "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = "
                "'serialization_failure'; END $$")
          .status();
    }
    return conn.Exec("test", "SELECT 1").status();
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(stats.Counter("retries"), 2);
  // A deadlock that never goes away: Aborted after bounded attempts.
  calls = 0;
  status = pg::Run(pool, "test", true, [&](pg::Connection& conn) -> absl::Status {
    ++calls;
    return conn
        .Exec("test",
              "DO $$ BEGIN RAISE EXCEPTION 'stuck' USING ERRCODE = 'deadlock_detected'; END $$")
        .status();
  });
  EXPECT_TRUE(absl::IsAborted(status)) << status;
  EXPECT_EQ(calls, pg::kMaxAttempts);
  EXPECT_NE(status.message().find("gave up"), absl::string_view::npos) << status;
  EXPECT_EQ(status.message().find(kPassword), absl::string_view::npos) << status;
}

}  // namespace
}  // namespace shardlake
