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
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT        := $(TOOLS)/golangci-lint

# The image: tagged with the collector's version (dist.version of the ocb
# manifest), built with podman, else with docker when its daemon answers.
VERSION        := $(shell sed -n 's/^  version: *//p' builder-config.yaml)
IMAGE          ?= otelcol-incidents:$(VERSION)
CONTAINER_TOOL ?= $(shell command -v podman 2>/dev/null || { docker info >/dev/null 2>&1 && command -v docker; })
CA_BUNDLE      ?= /etc/ssl/certs/ca-certificates.crt
# A real Prometheus for the example sender configs (Debian's package).
PROMETHEUS     ?= $(shell command -v prometheus 2>/dev/null)
# A real browser for the web view (Debian's chromium package).
CHROMIUM       ?= $(shell command -v chromium 2>/dev/null)
FUZZTIME             ?= 5s
FUZZ_TARGETS         := FuzzAlertmanagerPayload FuzzGrafanaPayload FuzzPrometheusPush FuzzAlertsOver FuzzPagerDutyEvent FuzzJSONBody

GO_SOURCES := $(shell find . -name '*.go' -not -path './build/*' -not -path './.tools/*') go.mod go.sum

.PHONY: build run image test unit fuzz bench-smoke bench bench-go generate lint screenshots tools clean

## build: the collector, with ocb, into build/otelcol-incidents
build: $(COLLECTOR)

$(COLLECTOR): builder-config.yaml $(GO_SOURCES) | $(OCB)
	@mkdir -p build
	$(OCB) --config builder-config.yaml
	ln -f build/dist/otelcol-incidents $(COLLECTOR)

## run: build, then start the collector on otelcol-config.yaml (SQLite in ./data)
run: build
	$(COLLECTOR) --config $(CONFIG)

## image: the OCI image (FROM scratch: the static collector, a CA bundle, the
## default config deploy/image/config.yaml), with podman or docker
image: build
	@test -n "$(CONTAINER_TOOL)" || { echo "make image needs podman or docker (with its daemon running)" >&2; exit 1; }
	rm -rf build/image
	mkdir -p build/image/data build/image/tmp
	cp $(CA_BUNDLE) build/image/ca-certificates.crt
	# --no-cache: buildah 1.28 (Debian's podman) reused a COPY layer after its
	# --chown changed; the image is small enough to build afresh each time.
	# podman's --layers=false leaves no intermediate image behind, and the
	# image this build replaces is removed, not left dangling (55 MB a build).
	old=$$($(CONTAINER_TOOL) image inspect --format '{{.Id}}' $(IMAGE) 2>/dev/null); \
	$(CONTAINER_TOOL) build --no-cache $(if $(findstring podman,$(notdir $(CONTAINER_TOOL))),--layers=false) \
		--build-arg VERSION=$(VERSION) -t $(IMAGE) -f Dockerfile . && \
	if [ -n "$$old" ] && [ "$$old" != "$$($(CONTAINER_TOOL) image inspect --format '{{.Id}}' $(IMAGE))" ]; then \
		$(CONTAINER_TOOL) rmi "$$old" >/dev/null 2>&1 || true; fi

## test: everything CI runs: unit and PostgreSQL tests, end-to-end against the
## built collector, its image (when podman or docker is installed), a real
## Alertmanager and Prometheus, short fuzzing, benchmarks once.
test: build $(ALERTMANAGER) $(MDATAGEN) $(if $(CONTAINER_TOOL),image)
	E2E_COLLECTOR_BIN=$(COLLECTOR) E2E_ALERTMANAGER_BIN=$(ALERTMANAGER) E2E_RELIABILITY_REPORT=$(CURDIR)/RELIABILITY.md \
	E2E_PROMETHEUS_BIN=$(PROMETHEUS) E2E_MDATAGEN_BIN=$(MDATAGEN) E2E_CHROMIUM_BIN=$(CHROMIUM) \
	$(if $(CONTAINER_TOOL),E2E_IMAGE=$(IMAGE) E2E_CONTAINER_TOOL=$(CONTAINER_TOOL)) \
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
## SQLite, PostgreSQL when INCIDENT_TEST_POSTGRES_DSN is set), one run; then
## the incident API's latency with 100 000 incidents, BENCHMARKS-API.md
bench: build $(ALERTMANAGER)
	$(GO) build -o build/baseline ./bench/baseline
	$(GO) run ./bench/runner -collector $(COLLECTOR) -baseline build/baseline -alertmanager $(ALERTMANAGER) $(BENCH_FLAGS)
	$(GO) run ./bench/apilatency -collector $(COLLECTOR) $(APILATENCY_FLAGS)

## bench-go: the Go benchmarks of the hot paths, with memory figures
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## generate: regenerate the mdatagen files of both components
generate: $(MDATAGEN)
	cd receiver/alertwebhookreceiver && $(MDATAGEN) metadata.yaml
	cd exporter/incidentexporter && $(MDATAGEN) metadata.yaml

## screenshots: the web view's pictures in docs/ (the README's), taken by the
## browser test on SQLite
screenshots: build
	E2E_COLLECTOR_BIN=$(COLLECTOR) E2E_CHROMIUM_BIN=$(CHROMIUM) E2E_SCREENSHOTS=$(CURDIR)/docs \
		$(GO) test -count=1 -run '^TestWebViewInBrowser$$/^sqlite$$' ./e2e/

## lint: golangci-lint v2 with .golangci.yml (contrib's linters and formatters)
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

tools: $(OCB) $(MDATAGEN) $(ALERTMANAGER) $(GOLANGCI_LINT)

# A rebuild when the pinned version changes: the binary reports its version.
$(GOLANGCI_LINT): Makefile
	@if ! $(GOLANGCI_LINT) version 2>/dev/null | grep -q "version $(GOLANGCI_LINT_VERSION:v%=%) "; then \
		echo "installing golangci-lint $(GOLANGCI_LINT_VERSION)"; \
		GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi
	@touch $@

$(OCB):
	GOBIN=$(TOOLS) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

$(ALERTMANAGER):
	GOBIN=$(TOOLS) $(GO) install github.com/prometheus/alertmanager/cmd/alertmanager@$(ALERTMANAGER_VERSION)

# mdatagen does not `go install` here; it builds from the pinned tools module.
$(MDATAGEN):
	cd internal/tools && $(GO) build -o $(MDATAGEN) go.opentelemetry.io/collector/cmd/mdatagen

clean:
	rm -rf build
