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

.PHONY: all test unit fuzz bench build clean tools vet fmt

all: build

# tools installs the pinned versitygw binary unless the right version is already there.
tools: $(VERSITYGW)

$(VERSITYGW):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) CGO_ENABLED=0 $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# test runs every unit and integration test with the race detector. The
# integration tests fail, never skip, when versitygw cannot be started.
test: tools
	CSVSTREAM_REQUIRE_S3=1 $(GO) test $(GOTEST_FLAGS) ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

bench: tools
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN) $(DIST)
