# silt — the two commands a newcomer needs are `make run` and `make test`.

SHELL   := /bin/bash
GO      ?= go
BIN     := $(CURDIR)/.bin
PKGS    ?= ./...
# TESTFLAGS can add e.g. -run or -count; CI sets nothing.
TESTFLAGS ?=
VERSITYGW_VERSION := v1.8.0

export PATH := $(BIN):$(PATH)

.PHONY: run build test test-duckdb test-browser compat fuzz bench lint tools clean

## run: one agent on localhost:9092 storing into ./silt-data
run:
	$(GO) run ./cmd/silt agent

## build: the silt binary in ./bin
build:
	$(GO) build -o bin/silt ./cmd/silt

## tools: test-only programs (versitygw, the S3 server the tests start)
tools: $(BIN)/versitygw

$(BIN)/versitygw:
	GOBIN=$(BIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

## test: vet, then every test with the race detector, and a short fuzz pass
test: tools
	$(GO) vet ./...
	set -o pipefail; $(GO) test -race -json -timeout 20m $(TESTFLAGS) $(PKGS) | $(GO) run ./internal/testsummary
	# Allocation bounds, which -race would distort, in a pass without it.
	$(GO) test -count=1 -run 'Allocation' ./segment/
	cd interop/duckdb && $(GO) test -count=1 ./...
	# The console in a real browser (Debian's chromium), a module of its
	# own so that chromedp stays out of go.mod.
	cd console/browsertest && $(GO) test -count=1 ./...
	# deploy/ is a module of its own (the Kubernetes API types stay out of go.mod):
	# its tests decode the Dockerfile, compose file and manifests strictly.
	cd deploy && $(GO) test -count=1 ./...
	$(MAKE) fuzz

## test-duckdb: DuckDB reads the Parquet export (a module of its own: cgo, bundled DuckDB)
test-duckdb:
	cd interop/duckdb && $(GO) test -count=1 ./...

## test-browser: the web console in headless Chromium against a three-agent
## cluster (a module of its own: chromedp); SILT_UPDATE_SCREENSHOTS=1 writes
## the README's screenshots in docs/console
test-browser:
	cd console/browsertest && $(GO) test -count=1 ./...

## compat: other clients' own test suites against silt (franz-go's kgo integration tests)
compat: tools
	set -o pipefail; $(GO) test -tags compat -run TestFranzGoIntegration -json -count=1 -timeout 25m ./compat/ | $(GO) run ./internal/testsummary

## fuzz: each fuzz target for a few seconds (FUZZTIME to change); see
## scripts/fuzz.sh for how the Go coordinator's deadline race is told apart
## from a finding
FUZZTIME ?= 5s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

## bench: silt bench (in process, with kfake as the reference); BENCHFLAGS
## adds flags, e.g. BENCHFLAGS="--s3 --volume 2GiB" (see silt bench --help)
BENCHFLAGS ?=
bench:
	$(GO) run ./cmd/silt bench $(BENCHFLAGS)

## bench-compaction: produce latency at 20 MB/s with and without the
## compactor beside it (file bucket; SILT_COMPACTION_LATENCY_STORE=mem for memory)
bench-compaction:
	$(GO) test -tags latency -count=1 -run ProduceLatency -v ./compaction/

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin silt-data

## interop-python: librdkafka (confluent-kafka) and Spark Structured Streaming
## against silt; a venv in interop/.venv (see interop/run-python.sh)
.PHONY: interop-python
interop-python: tools
	bash interop/run-python.sh

## interop-flink: PyFlink with Flink's Kafka SQL connector against silt; a
## venv of its own in interop/.venv-flink (see interop/run-flink.sh)
.PHONY: interop-flink
interop-flink:
	bash interop/run-flink.sh

## interop: Apache Kafka's own clients, tools and checkers against the silt
## binary (interop/README.md); each part is an interop-* target
.PHONY: interop interop-java
interop: interop-java interop-python interop-flink

## interop-java: kafka-clients, kafka-tools, VerifiableProducer/Consumer and
## Kafka Streams 4.4.0 under Maven Surefire (interop/java), three agents per
## cluster (SILT_AGENTS=1 for one)
interop-java: build tools
	SILT_BINARY=$(CURDIR)/bin/silt bash interop/run-java.sh

## bench-kafka: silt against Apache Kafka 4.4.0 on this machine in one run
## (a KRaft broker from the Maven jars; Kafka's ProducerPerformance,
## ConsumerPerformance and EndToEndLatency on Kafka, silt on a file bucket and
## silt on versitygw); prints one side-by-side table, kept with the raw figures
## and logs in interop/.cache/bench-kafka (interop/bench-kafka/README.md).
## BENCHKAFKAFLAGS adds flags, e.g. BENCHKAFKAFLAGS="--volume 2GiB"
.PHONY: bench-kafka
BENCHKAFKAFLAGS ?=
bench-kafka: tools
	python3 interop/bench-kafka/run.py $(BENCHKAFKAFLAGS)
