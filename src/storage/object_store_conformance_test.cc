// Runs the ObjectStore conformance suite against the built-in backends.
#include "storage/object_store_conformance.h"

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "common/ids.h"
#include "storage/object_store.h"

namespace shardlake {
namespace {

// A file:// store in a fresh temp directory, removed with the store.
absl::StatusOr<std::unique_ptr<ObjectStore>> MakeTempDirectoryStore() {
  const std::string root =
      (std::filesystem::path(::testing::TempDir()) / ("shardlake-file-store-" + NewUuid()))
          .string();
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenObjectStore("file://" + root);
  if (!store.ok()) return store.status();
  return std::unique_ptr<ObjectStore>(
      std::make_unique<ObjectStoreWithCleanup>(std::move(*store), [root] {
        std::error_code ignored;
        std::filesystem::remove_all(root, ignored);
      }));
}

// A memory:// store under a name no other test uses.
absl::StatusOr<std::unique_ptr<ObjectStore>> MakeUniqueMemoryStore() {
  return OpenObjectStore("memory://conformance-" + NewUuid());
}

INSTANTIATE_TEST_SUITE_P(BuiltInBackends, ObjectStoreConformanceTest,
                         ::testing::Values(ObjectStoreBackend{"file", MakeTempDirectoryStore},
                                           ObjectStoreBackend{"memory", MakeUniqueMemoryStore}),
                         ObjectStoreBackendName());

}  // namespace
}  // namespace shardlake
