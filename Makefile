# The project's commands. Everything a fresh machine with Go needs is
# installed here, into .tools/ (git-ignored).

GO            ?= go
TOOLS         := $(CURDIR)/.tools
OCB           := $(TOOLS)/builder
MDATAGEN      := $(TOOLS)/mdatagen
ALERTMANAGER  := $(TOOLS)/alertmanager
COLLECTOR     := $(CURDIR)/build/otelcol-incidents
CONFIG        ?= otelcol-config.yaml

OCB_VERSION          := v0.161.0
ALERTMANAGER_VERSION := v0.31.1
FUZZTIME             ?= 5s
FUZZ_TARGETS         := FuzzAlertmanagerPayload FuzzGrafanaPayload FuzzPrometheusPush

GO_SOURCES := $(shell find . -name '*.go' -not -path './build/*' -not -path './.tools/*') go.mod go.sum

.PHONY: build run test unit fuzz bench-smoke bench bench-go generate lint tools clean

## build: the collector, with ocb, into build/otelcol-incidents
build: $(COLLECTOR)

$(COLLECTOR): builder-config.yaml $(GO_SOURCES) | $(OCB)
	@mkdir -p build
	$(OCB) --config builder-config.yaml
	ln -f build/dist/otelcol-incidents $(COLLECTOR)

## run: build, then start the collector on otelcol-config.yaml (SQLite in ./data)
run: build
	$(COLLECTOR) --config $(CONFIG)

## test: everything CI runs: unit and PostgreSQL tests, end-to-end against the
## built collector and a real Alertmanager, short fuzzing, benchmarks once.
test: build $(ALERTMANAGER)
	E2E_COLLECTOR_BIN=$(COLLECTOR) E2E_ALERTMANAGER_BIN=$(ALERTMANAGER) E2E_RELIABILITY_REPORT=$(CURDIR)/RELIABILITY.md \
		$(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) fuzz bench-smoke

unit:
	$(GO) test -race -count=1 ./internal/... ./receiver/... ./exporter/...

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZTIME)"; \
		$(GO) test ./receiver/alertwebhookreceiver/ -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

## bench-smoke: every Go benchmark once, so that none can rot
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

## bench: the load comparison of BENCHMARKS.md (baseline, receiver alone,
## SQLite, PostgreSQL when INCIDENT_TEST_POSTGRES_DSN is set), one run
bench: build $(ALERTMANAGER)
	$(GO) build -o build/baseline ./bench/baseline
	$(GO) run ./bench/runner -collector $(COLLECTOR) -baseline build/baseline -alertmanager $(ALERTMANAGER) $(BENCH_FLAGS)

## bench-go: the Go benchmarks of the hot paths, with memory figures
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## generate: regenerate the mdatagen files of both components
generate: $(MDATAGEN)
	cd receiver/alertwebhookreceiver && $(MDATAGEN) metadata.yaml
	cd exporter/incidentexporter && $(MDATAGEN) metadata.yaml

## lint: go vet and a gofmt check
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

tools: $(OCB) $(MDATAGEN) $(ALERTMANAGER)

$(OCB):
	GOBIN=$(TOOLS) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

$(ALERTMANAGER):
	GOBIN=$(TOOLS) $(GO) install github.com/prometheus/alertmanager/cmd/alertmanager@$(ALERTMANAGER_VERSION)

# mdatagen does not `go install` here; it builds from the pinned tools module.
$(MDATAGEN):
	cd internal/tools && $(GO) build -o $(MDATAGEN) go.opentelemetry.io/collector/cmd/mdatagen

clean:
	rm -rf build
