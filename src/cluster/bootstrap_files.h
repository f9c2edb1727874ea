// The security half of `shardlake bootstrap` and the all-or-nothing
// replacement of a data directory.
//
// A bootstrap builds the complete new data directory in a staging directory
// next to the target (same parent, so the same file system), then swaps it in:
//
//   ASSIGN_OR_RETURN(BootstrapStaging staging, BootstrapStaging::Begin(plan.data_dir, plan.force));
//   RETURN_IF_ERROR(WriteSecurityFiles(staging.staging_dir(), plan));
//   ... load the TPC-H tables into staging.staging_dir() ...
//   RETURN_IF_ERROR(staging.Commit());
//
// Any early return destroys `staging`, which removes the staging directory:
// the target is untouched. (A crash before Commit leaves the target untouched
// and a ".<name>.staging.<id>" directory next to it, to be deleted by hand.)
//
// Commit swaps the directories with one renameat2(RENAME_EXCHANGE) and then
// removes the old one, so a reader (or a crash) sees the old directory or the
// new one, never a mix. Where the file system lacks RENAME_EXCHANGE it renames
// the old directory aside, the new one in, and then removes the old one; a
// crash between those two renames leaves no directory at the target and the
// old one, complete, at "<parent>/.<name>.old.<id>". A crash after the swap but
// before the clean-up leaves the complete old directory under a
// ".<name>.staging.<id>" or ".<name>.old.<id>" name, to be deleted by hand.
//
// Layout written by WriteSecurityFiles (paths relative to the data dir):
//   users.json          users file (users_file.h), mode 0600: the client user and
//                       user "worker" (role worker)
//   tls/ca.crt, tls/ca.key, tls/server.crt, tls/server.key   (tls_files.h)
//
// The data directory (the staging directory) is created with mode 0700: it
// holds the users file and private keys.
//
// Thread-safety: a BootstrapStaging is used by one thread at a time; two
// bootstraps of one data dir at once: at most one commit succeeds (without
// force) or the last one wins (with force), each complete.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cluster/password_hash.h"

namespace shardlake {

inline constexpr std::string_view kUsersFileName = "users.json";
inline constexpr std::string_view kTlsDirectoryName = "tls";
// Written by `shardlake bootstrap` (docs/bootstrap.md): what the data dir holds.
inline constexpr std::string_view kClusterManifestName = "cluster.json";

struct BootstrapPlan {
  std::string data_dir;
  std::string client_username;
  std::string client_password;
  std::string worker_password;
  // Extra name in the server certificate (tls_files.h); empty for none.
  std::string tls_hostname;
  // Replace an existing, non-empty data dir.
  bool force = false;
  // Password hash cost; tests lower it.
  ScryptParams password_params;
};

// Checks the plan without touching the disk. Errors: InvalidArgument for an
// empty data dir, a bad client user name (users_file.h's rules) or the worker
// user's name, an empty or short password (the message says which password and
// the rule, never the password), or a bad TLS host name.
absl::Status ValidateBootstrapPlan(const BootstrapPlan& plan);

// Validates `plan`, then writes users.json and tls/ into `staging_dir` (which
// must exist). Errors: ValidateBootstrapPlan's; others from UsersFile::Save and
// GenerateTlsFiles.
absl::Status WriteSecurityFiles(const std::string& staging_dir, const BootstrapPlan& plan);

// Points in Commit() where tests inject a fault.
enum class CommitStep {
  kBeforeSwap,     // the staging tree is durable; nothing renamed yet
  kOldMovedAside,  // two-rename fallback only: the old directory is renamed aside
  kSwapped,        // the new directory is in place; the old one not yet removed
};

// What an injected fault does: kError fails Commit() there with Internal and
// lets its error handling run (at kSwapped, where nothing can fail any more,
// it acts as kCrash); kCrash stops Commit() there and leaves every directory
// as a crash would (nothing is cleaned up, not even on destruction).
enum class InjectedFault { kError, kCrash };

// A staging directory for one data directory, removed on destruction unless
// committed. Move-only.
class BootstrapStaging {
 public:
  // Refuses a `data_dir` that exists and is not an empty directory, unless
  // `force`; then creates "<parent>/.<name>.staging.<id>" with mode 0700.
  // `data_dir` may be relative and may go through symlinks; it is resolved
  // now, and the real directory is the one replaced. Missing parent
  // directories are created.
  // Errors: InvalidArgument for an empty path or one without a final name
  // (e.g. "/"); FailedPrecondition if `data_dir` exists and is not a directory,
  // or, without `force`, is a non-empty directory (the message says to pass
  // --force); errno-based errors (common/errno_status.h) for the parent or the
  // staging directory.
  static absl::StatusOr<BootstrapStaging> Begin(const std::string& data_dir, bool force);

  BootstrapStaging(BootstrapStaging&& other) noexcept;
  BootstrapStaging& operator=(BootstrapStaging&& other) noexcept;
  BootstrapStaging(const BootstrapStaging&) = delete;
  BootstrapStaging& operator=(const BootstrapStaging&) = delete;
  // Removes the staging directory unless committed.
  ~BootstrapStaging();

  // Absolute path of the staging directory to fill.
  const std::string& staging_dir() const { return staging_dir_; }
  // Absolute path of the target.
  const std::string& data_dir() const { return data_dir_; }

  // fsyncs the staging directory tree, then puts it in place of the data dir
  // (see the file comment) and removes the old one. Without force, a data dir
  // that became non-empty since Begin is left alone: FailedPrecondition. On any
  // failure before the swap, the data dir is as it was and the staging dir is
  // removed. REQUIRES: not yet committed.
  absl::Status Commit();

  // Removes the staging directory now (what the destructor does). Idempotent.
  void Abort();

  // Test hook: inject `fault` at `step` of Commit().
  void TEST_InjectFault(CommitStep step, InjectedFault fault) {
    injected_step_ = step;
    injected_fault_ = fault;
    fault_injected_ = true;
  }
  // Test hook: use the two-rename fallback even where RENAME_EXCHANGE works.
  void TEST_DisableRenameExchange() { rename_exchange_disabled_ = true; }

 private:
  BootstrapStaging(std::string data_dir, std::string staging_dir, bool force);

  // Internal if a fault is injected at `step`; for kCrash also forgets the
  // staging directory so that nothing is cleaned up.
  absl::Status InjectedFaultAt(CommitStep step);
  // Swaps via RENAME_EXCHANGE; sets *unsupported and returns OK without
  // changing anything if the file system cannot.
  absl::Status SwapByExchange(bool* unsupported);
  // The fallback: old aside, new in, old removed; rolls back on failure.
  absl::Status SwapByRenames(bool target_empty);
  // Renames the staging dir onto an absent data dir.
  absl::Status MoveIntoAbsentTarget();
  // Makes the swap durable and removes the old directory (best effort).
  absl::Status Finish(const std::string& old_dir);

  std::string data_dir_;
  std::string staging_dir_;  // Empty once committed or removed.
  std::string parent_dir_;
  bool force_ = false;
  bool fault_injected_ = false;
  CommitStep injected_step_ = CommitStep::kBeforeSwap;
  InjectedFault injected_fault_ = InjectedFault::kError;
  bool rename_exchange_disabled_ = false;
};

}  // namespace shardlake
