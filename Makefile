# Thin wrapper over CMake + Ninja. Every target installs what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
BIN := $(BUILD_DIR)/src/cli/shardlake

.PHONY: deps configure build test demo demo-lake bench format format-check clean

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	@./scripts/demo.sh $(BIN)

demo-lake: build
	@./scripts/demo-lake.sh $(BIN)

bench: build
	@./bench/run.sh $(BUILD_DIR)

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

format-check: deps
	@git ls-files '*.h' '*.cc' | xargs clang-format --dry-run --Werror

clean:
	@rm -rf $(BUILD_DIR)
