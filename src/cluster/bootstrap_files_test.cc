#include "cluster/bootstrap_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "cluster/test_dir.h"
#include "cluster/tls_files.h"
#include "cluster/users_file.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr ScryptParams kFastParams{uint64_t{1} << 10, 8, 1};

// Every file under `root` (relative path -> contents) and every directory
// (relative path + "/" -> "").
std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> tree;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    std::string relative = fs::relative(entry.path(), root).string();
    if (entry.is_directory()) {
      tree[relative + "/"] = "";
    } else {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream contents;
      contents << in.rdbuf();
      tree[relative] = contents.str();
    }
  }
  return tree;
}

std::vector<std::string> Names(const std::string& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void WriteText(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::trunc) << text;
}

class BootstrapFilesTest : public ::testing::Test {
 protected:
  BootstrapPlan Plan(bool force = false) const {
    BootstrapPlan plan;
    plan.data_dir = data_dir_;
    plan.client_username = "scott";
    plan.client_password = "tiger";
    plan.worker_password = "united";
    plan.tls_hostname = "db1.example.com";
    plan.force = force;
    plan.password_params = kFastParams;
    return plan;
  }

  // An existing data dir with an old users file and some data.
  void MakeOldDataDir() {
    WriteText(data_dir_ + "/users.json", "old users");
    WriteText(data_dir_ + "/lake/tpch/lineitem/0.parquet", "old data");
    old_tree_ = Tree(data_dir_);
  }

  // What a bootstrap writes into the staging dir: the security files and a
  // stand-in for the loaded tables.
  static absl::Status FillStaging(const BootstrapStaging& staging, const BootstrapPlan& plan) {
    absl::Status status = WriteSecurityFiles(staging.staging_dir(), plan);
    if (status.ok()) WriteText(staging.staging_dir() + "/lake/tpch/orders/0.parquet", "new data");
    return status;
  }

  void ExpectNewDataDir() {
    ASSERT_TRUE(fs::is_directory(data_dir_));
    EXPECT_EQ(PermissionBits(data_dir_), 0700);
    std::map<std::string, std::string> tree = Tree(data_dir_);
    EXPECT_EQ(tree.count("lake/tpch/lineitem/0.parquet"), 0u) << "old data left behind";
    EXPECT_EQ(tree["lake/tpch/orders/0.parquet"], "new data");
    absl::StatusOr<UsersFile> users = UsersFile::Load(data_dir_ + "/users.json");
    ASSERT_TRUE(users.ok()) << users.status();
    EXPECT_TRUE(users->Authenticate("scott", "tiger").ok());
    absl::StatusOr<AuthenticatedUser> worker = users->Authenticate("worker", "united");
    ASSERT_TRUE(worker.ok()) << worker.status();
    EXPECT_EQ(worker->role, UserRole::kWorker);
    absl::StatusOr<ServerTlsMaterial> tls = LoadServerTlsFiles(data_dir_ + "/tls");
    ASSERT_TRUE(tls.ok()) << tls.status();
  }

  // The parent holds the data dir (when `with_data_dir`) and nothing else.
  void ExpectNoDebris(bool with_data_dir = true) {
    if (with_data_dir) {
      EXPECT_THAT(Names(parent_.path()), ElementsAre("data"));
    } else {
      EXPECT_THAT(Names(parent_.path()), IsEmpty());
    }
  }

  TestDir parent_;
  std::string data_dir_ = parent_ / "data";
  std::map<std::string, std::string> old_tree_;
};

TEST_F(BootstrapFilesTest, PlanValidationNamesTheFlagAndTheRule) {
  EXPECT_TRUE(ValidateBootstrapPlan(Plan()).ok());
  struct Case {
    std::function<void(BootstrapPlan&)> change;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {[](BootstrapPlan& p) { p.data_dir = ""; }, "--data-dir is empty"},
      {[](BootstrapPlan& p) { p.client_username = ""; }, "--client-username: user name is empty"},
      {[](BootstrapPlan& p) { p.client_username = "scott tiger"; }, "--client-username"},
      {[](BootstrapPlan& p) { p.client_username = "sc/ott"; }, "outside A-Z"},
      {[](BootstrapPlan& p) { p.client_username = "worker"; }, "reserved for the workers"},
      {[](BootstrapPlan& p) { p.client_password = ""; }, "--client-password is empty"},
      {[](BootstrapPlan& p) { p.client_password = "tig"; }, "--client-password is too short"},
      {[](BootstrapPlan& p) { p.worker_password = ""; }, "--worker-password is empty"},
      {[](BootstrapPlan& p) { p.worker_password = "uni"; }, "at least 4"},
      {[](BootstrapPlan& p) { p.tls_hostname = "db 1"; }, "--tls-hostname"},
  };
  for (const Case& c : cases) {
    BootstrapPlan plan = Plan();
    c.change(plan);
    absl::Status status = ValidateBootstrapPlan(plan);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.reason;
    EXPECT_THAT(status.message(), HasSubstr(c.reason));
    EXPECT_THAT(status.message(), Not(HasSubstr("tig'")));
    EXPECT_EQ(WriteSecurityFiles(parent_.path(), plan).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(Names(parent_.path()), IsEmpty()) << "a refused plan writes nothing";
}

TEST_F(BootstrapFilesTest, FreshDataDirGetsEverythingAndNoDebris) {
  absl::StatusOr<BootstrapStaging> staging = BootstrapStaging::Begin(data_dir_, false);
  ASSERT_TRUE(staging.ok()) << staging.status();
  EXPECT_FALSE(fs::exists(data_dir_)) << "nothing visible before Commit";
  ASSERT_TRUE(FillStaging(*staging, Plan()).ok());
  EXPECT_EQ(PermissionBits(staging->staging_dir() + "/users.json"), 0600);
  EXPECT_EQ(PermissionBits(staging->staging_dir() + "/tls/server.key"), 0600);
  EXPECT_EQ(PermissionBits(staging->staging_dir() + "/tls/ca.key"), 0600);
  absl::Status committed = staging->Commit();
  ASSERT_TRUE(committed.ok()) << committed;
  ExpectNewDataDir();
  ExpectNoDebris();
}

TEST_F(BootstrapFilesTest, ParentDirectoriesAreCreated) {
  data_dir_ = parent_ / "a/b/data";
  absl::StatusOr<BootstrapStaging> staging = BootstrapStaging::Begin(data_dir_, false);
  ASSERT_TRUE(staging.ok()) << staging.status();
  ASSERT_TRUE(FillStaging(*staging, Plan()).ok());
  ASSERT_TRUE(staging->Commit().ok());
  ExpectNewDataDir();
}

TEST_F(BootstrapFilesTest, ExistingDataDirWithoutForceIsRefusedAndUnchanged) {
  MakeOldDataDir();
  absl::StatusOr<BootstrapStaging> staging = BootstrapStaging::Begin(data_dir_, false);
  EXPECT_EQ(staging.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(staging.status().message(), HasSubstr("--force"));
  EXPECT_THAT(staging.status().message(), HasSubstr(data_dir_));
  EXPECT_EQ(Tree(data_dir_), old_tree_);
  ExpectNoDebris();
}

TEST_F(BootstrapFilesTest, EmptyExistingDataDirNeedsNoForce) {
  fs::create_directories(data_dir_);
  absl::StatusOr<BootstrapStaging> staging = BootstrapStaging::Begin(data_dir_, false);
  ASSERT_TRUE(staging.ok()) << staging.status();
  ASSERT_TRUE(FillStaging(*staging, Plan()).ok());
  ASSERT_TRUE(staging->Commit().ok());
  ExpectNewDataDir();
  ExpectNoDebris();
}

TEST_F(BootstrapFilesTest, DataDirThatIsAFileOrTheRootIsRefused) {
  WriteText(data_dir_, "a file");
  EXPECT_EQ(BootstrapStaging::Begin(data_dir_, true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(BootstrapStaging::Begin("/", true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BootstrapStaging::Begin("", true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Names(parent_.path()), ElementsAre("data"));
}

// Both ways of swapping: renameat2(RENAME_EXCHANGE), and the two renames used
// where a file system lacks it.
class BootstrapSwapTest : public BootstrapFilesTest, public ::testing::WithParamInterface<bool> {
 protected:
  absl::StatusOr<BootstrapStaging> Begin(bool force) {
    absl::StatusOr<BootstrapStaging> staging = BootstrapStaging::Begin(data_dir_, force);
    if (staging.ok() && !GetParam()) staging->TEST_DisableRenameExchange();
    return staging;
  }
};

INSTANTIATE_TEST_SUITE_P(Swap, BootstrapSwapTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Exchange" : "Renames"; });

TEST_P(BootstrapSwapTest, ForceReplacesTheDataDirCompletely) {
  MakeOldDataDir();
  absl::StatusOr<BootstrapStaging> staging = Begin(true);
  ASSERT_TRUE(staging.ok()) << staging.status();
  ASSERT_TRUE(FillStaging(*staging, Plan(true)).ok());
  EXPECT_EQ(Tree(data_dir_), old_tree_) << "old dir untouched until Commit";
  absl::Status committed = staging->Commit();
  ASSERT_TRUE(committed.ok()) << committed;
  ExpectNewDataDir();
  ExpectNoDebris();
  EXPECT_EQ(staging->Commit().code(), absl::StatusCode::kFailedPrecondition) << "only once";
}

TEST_P(BootstrapSwapTest, FailureWhileFillingLeavesOldDirAndNoDebris) {
  MakeOldDataDir();
  {
    absl::StatusOr<BootstrapStaging> staging = Begin(true);
    ASSERT_TRUE(staging.ok()) << staging.status();
    ASSERT_TRUE(WriteSecurityFiles(staging->staging_dir(), Plan(true)).ok());
    // Half of a table, then the load fails and the caller returns early.
    WriteText(staging->staging_dir() + "/lake/tpch/orders/0.parquet", "half of it");
  }
  EXPECT_EQ(Tree(data_dir_), old_tree_);
  ExpectNoDebris();
}

TEST_P(BootstrapSwapTest, InjectedErrorBeforeOrDuringSwapLeavesOldDirAndNoDebris) {
  for (CommitStep step : {CommitStep::kBeforeSwap, CommitStep::kOldMovedAside}) {
    MakeOldDataDir();
    {
      absl::StatusOr<BootstrapStaging> staging = Begin(true);
      ASSERT_TRUE(staging.ok()) << staging.status();
      ASSERT_TRUE(FillStaging(*staging, Plan(true)).ok());
      staging->TEST_InjectFault(step, InjectedFault::kError);
      absl::Status committed = staging->Commit();
      // kOldMovedAside exists only on the two-rename path.
      if (step == CommitStep::kOldMovedAside && GetParam()) {
        EXPECT_TRUE(committed.ok()) << committed;
        continue;
      }
      EXPECT_EQ(committed.code(), absl::StatusCode::kInternal);
      EXPECT_EQ(Tree(data_dir_), old_tree_) << "step " << static_cast<int>(step);
    }
    ExpectNoDebris();
  }
}

TEST_P(BootstrapSwapTest, CrashAfterSwapLeavesTheWholeNewDirInPlace) {
  MakeOldDataDir();
  absl::StatusOr<BootstrapStaging> staging = Begin(true);
  ASSERT_TRUE(staging.ok()) << staging.status();
  ASSERT_TRUE(FillStaging(*staging, Plan(true)).ok());
  staging->TEST_InjectFault(CommitStep::kSwapped, InjectedFault::kCrash);
  EXPECT_EQ(staging->Commit().code(), absl::StatusCode::kInternal);
  staging = absl::InternalError("destroyed");  // a crashed process cleans nothing
  ExpectNewDataDir();
  // The complete old dir survives under a hidden name, nothing is mixed.
  std::vector<std::string> names = Names(parent_.path());
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[1], "data");
  EXPECT_EQ(Tree(parent_ / names[0]), old_tree_);
}

TEST_F(BootstrapFilesTest, CrashBetweenTheTwoRenamesLeavesBothDirsComplete) {
  MakeOldDataDir();
  absl::StatusOr<BootstrapStaging> staging = BootstrapStaging::Begin(data_dir_, true);
  ASSERT_TRUE(staging.ok()) << staging.status();
  staging->TEST_DisableRenameExchange();
  ASSERT_TRUE(FillStaging(*staging, Plan(true)).ok());
  const std::string staging_dir = staging->staging_dir();
  const std::map<std::string, std::string> new_tree = Tree(staging_dir);
  staging->TEST_InjectFault(CommitStep::kOldMovedAside, InjectedFault::kCrash);
  EXPECT_EQ(staging->Commit().code(), absl::StatusCode::kInternal);
  staging = absl::InternalError("destroyed");
  EXPECT_FALSE(fs::exists(data_dir_));
  std::vector<std::string> names = Names(parent_.path());
  ASSERT_EQ(names.size(), 2u);
  EXPECT_THAT(names[0], HasSubstr(".data.old."));
  EXPECT_EQ(Tree(parent_ / names[0]), old_tree_);
  EXPECT_EQ(Tree(staging_dir), new_tree);
}

TEST_P(BootstrapSwapTest, DataDirFilledByOthersDuringBootstrapIsLeftAlone) {
  absl::StatusOr<BootstrapStaging> staging = Begin(false);
  ASSERT_TRUE(staging.ok()) << staging.status();
  ASSERT_TRUE(FillStaging(*staging, Plan()).ok());
  MakeOldDataDir();  // someone else's, created after Begin
  absl::Status committed = staging->Commit();
  EXPECT_EQ(committed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(committed.message(), HasSubstr("someone else"));
  staging = absl::InternalError("destroyed");
  EXPECT_EQ(Tree(data_dir_), old_tree_);
  ExpectNoDebris();
}

TEST_P(BootstrapSwapTest, EmptyDirCreatedDuringBootstrapIsReplacedWithoutForce) {
  absl::StatusOr<BootstrapStaging> staging = Begin(false);
  ASSERT_TRUE(staging.ok()) << staging.status();
  ASSERT_TRUE(FillStaging(*staging, Plan()).ok());
  fs::create_directories(data_dir_);
  ASSERT_TRUE(staging->Commit().ok());
  ExpectNewDataDir();
  ExpectNoDebris();
}

}  // namespace
}  // namespace shardlake
