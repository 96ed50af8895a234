# csvstream build, test and demo targets.
#
# Everything a target needs is installed by the target itself: versitygw (the
# real S3 server the integration tests talk to) is built from the Go module
# proxy into ./bin at a pinned version.

GO            ?= go
BIN           := $(CURDIR)/bin
DIST          := $(CURDIR)/dist
VERSITYGW_VERSION := v1.8.0
VERSITYGW     := $(BIN)/versitygw
GOTEST_FLAGS  ?= -race -count=1 -timeout 20m
FUZZTIME      ?= 15s

export CSVSTREAM_VERSITYGW := $(VERSITYGW)

# The arm64 tests run natively on arm64 and under qemu-user elsewhere.
# qemu-user cannot start a process in namespaces of its own, so the one
# test that does (to mount a file) is left out of the emulated run; the
# race run on this machine runs it.
QEMU_AARCH64  ?= qemu-aarch64
ifeq ($(shell $(GO) env GOHOSTARCH),arm64)
ARM64_EXEC     :=
else
ARM64_EXEC     := -exec $(QEMU_AARCH64) -skip '^TestRunRefusesMountPoint$$'
endif

# The Lambda artifact: a static linux/arm64 bootstrap for the provided.al2023
# runtime, without the RPC mode Go 1.x runtimes needed.
LAMBDA_GOOS   := linux
LAMBDA_GOARCH := arm64
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags '-s -w'

.PHONY: all test test-race test-arm64 fuzz bench build clean tools test-deps vet fmt lint demo \
	lambda-bootstrap build-CsvstreamFunction

all: build

# tools installs the pinned versitygw binary into ./bin. A stamp file names
# the installed version, so changing VERSITYGW_VERSION reinstalls it.
VERSITYGW_STAMP := $(BIN)/.versitygw-$(VERSITYGW_VERSION)

tools: $(VERSITYGW_STAMP)

# A stamp left without its binary (bin/versitygw deleted) installs it again.
ifeq ($(wildcard $(VERSITYGW)),)
.PHONY: $(VERSITYGW_STAMP)
endif

$(VERSITYGW_STAMP):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) CGO_ENABLED=0 $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	rm -f $(BIN)/.versitygw-*
	touch $@

# Make 3.81 (macOS's) has no --output-sync: there the two test runs go one
# after the other, rather than print their lines mixed.
SIDE_BY_SIDE := $(if $(filter 3.%,$(MAKE_VERSION)),,-j2 --output-sync=target)

# test runs test-race and test-arm64 side by side, then the fuzz targets
# for a short time each. The two test runs spend most of their time
# waiting, on S3 requests held back by injected faults and on timers, so
# side by side they finish in about the time of the longer one; each
# one's output is printed whole when it ends. The integration tests fail,
# never skip, when versitygw cannot be started.
test: tools test-deps
	$(MAKE) --no-print-directory $(SIDE_BY_SIDE) test-race test-arm64
	$(MAKE) fuzz

# test-race runs every unit and integration test with the race detector.
test-race: tools test-deps
	CSVSTREAM_REQUIRE_S3=1 $(GO) test $(GOTEST_FLAGS) ./...

# test-arm64 runs the library's and the handler's tests built for arm64,
# the Lambda's architecture, where the scanner and the email check run
# their portable code (under qemu-user unless this machine is arm64).
test-arm64: tools test-deps
	CSVSTREAM_REQUIRE_S3=1 GOARCH=arm64 $(GO) test -count=1 -timeout 20m $(ARM64_EXEC) ./csvstream/ ./handler/

# test-deps installs from Debian's packages what the tests need and this
# machine lacks: a C compiler, as the race detector needs cgo, and, unless
# this machine is arm64, qemu-user to run the arm64 test binaries. One
# apt-get call installs them all: two would contend for apt's lock under
# make -j.
test-deps:
	@pkgs=; \
	command -v "$$($(GO) env CC)" >/dev/null 2>&1 || pkgs="$$pkgs gcc libc6-dev"; \
	$(if $(ARM64_EXEC),command -v $(QEMU_AARCH64) >/dev/null 2>&1 || pkgs="$$pkgs qemu-user";) \
	[ -z "$$pkgs" ] || { \
		command -v apt-get >/dev/null 2>&1 || { echo "make: the tests need$$pkgs, and there is no apt-get to install them" >&2; exit 1; }; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing$$pkgs for the tests"; \
		$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null; \
	}

# fuzz runs each fuzz target for FUZZTIME: the scanner against encoding/csv,
# the schema parser against panics, the row checks against a plain
# reference implementation, infer against its own sample, Run against
# the records the scanner finds (each one in the output or the rejects),
# and the handler against any event bytes and any bucket and key.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzScanner$$' -fuzztime $(FUZZTIME) ./csvstream/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSchema$$' -fuzztime $(FUZZTIME) ./csvstream/
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./csvstream/
	$(GO) test -run '^$$' -fuzz '^FuzzInferRoundTrip$$' -fuzztime $(FUZZTIME) ./csvstream/
	$(GO) test -run '^$$' -fuzz '^FuzzRun$$' -fuzztime $(FUZZTIME) ./csvstream/
	$(GO) test -run '^$$' -fuzz '^FuzzInvoke$$' -fuzztime $(FUZZTIME) ./handler/
	$(GO) test -run '^$$' -fuzz '^FuzzEventObject$$' -fuzztime $(FUZZTIME) ./handler/

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

# bench runs the benchmarks behind the README's numbers: the CPU-bound hot
# path on one core (-cpu 1), then the S3 writer, reader and copy with the
# default GOMAXPROCS, since they overlap network and CPU.
bench: tools
	$(GO) test -run '^$$' -bench 'Pipeline$$|PipelineNoSchema$$|EncodingCSV$$|Scanner$$|ScannerDamaged|Validate|Row|UniqueMemory|ParseSchemaWide' -benchmem -cpu 1 ./csvstream/
	$(GO) test -run '^$$' -bench 'ObjectWriter|ObjectReader|ObjectChecksum|CopyFileToS3' -benchmem ./csvstream/

clean:
	rm -rf $(BIN) $(DIST)

# build writes the Lambda deployment package dist/csvstream.zip (bootstrap
# for linux/arm64) and the CLI bin/csvstream for this machine.
build: lambda-bootstrap
	$(GO) run ./internal/lambdazip -o $(DIST)/csvstream.zip $(DIST)/bootstrap
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/csvstream ./cmd/csvstream

lambda-bootstrap:
	@mkdir -p $(DIST)
	CGO_ENABLED=0 GOOS=$(LAMBDA_GOOS) GOARCH=$(LAMBDA_GOARCH) \
		$(GO) build $(LAMBDA_FLAGS) -o $(DIST)/bootstrap ./cmd/bootstrap
	chmod 0755 $(DIST)/bootstrap

# build-CsvstreamFunction is what `sam build` runs for the function in
# template.yaml (BuildMethod: makefile); SAM sets ARTIFACTS_DIR. The
# bootstrap is made 0755 whatever the umask, as cp applies it again: Lambda
# runs it as a user other than its owner, and SAM's zip adds only read bits.
build-CsvstreamFunction: lambda-bootstrap
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	cp $(DIST)/bootstrap $(ARTIFACTS_DIR)/bootstrap
	chmod 0755 $(ARTIFACTS_DIR)/bootstrap

# lint checks template.yaml with cfn-lint, which also expands the SAM
# transform; it is skipped when cfn-lint is not installed.
lint:
	@if command -v cfn-lint >/dev/null 2>&1; then \
		echo cfn-lint template.yaml; cfn-lint template.yaml; \
	else \
		echo "lint: cfn-lint not installed (pip install cfn-lint); skipping template.yaml"; \
	fi

# demo runs the whole flow on this machine: it builds the bootstrap for this
# machine's architecture and the CLI, starts versitygw on loopback, uploads a
# generated CSV and its schema, invokes the bootstrap through the Lambda
# Runtime API with events/s3-put.json, prints the result and the first lines
# of the valid rows and the rejects, runs the same object through the CLI and
# checks that it counts the same rows, and stops everything it started.
demo: tools
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -o $(BIN)/bootstrap ./cmd/bootstrap
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/csvstream ./cmd/csvstream
	$(GO) build -o $(BIN)/csvstream-demo ./internal/demo
	$(BIN)/csvstream-demo -versitygw $(VERSITYGW) -bootstrap $(BIN)/bootstrap -cli $(BIN)/csvstream -event events/s3-put.json
