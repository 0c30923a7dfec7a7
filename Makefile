# fsecgm — the two commands for a fresh machine are `make run` and `make test`.
# Everything else is for developers and operators (see README.md).

GO      ?= go
PKGS    ?= ./...
BENCH   := .bench
PGRUN   := $(GO) run ./cmd/pgrun --

.PHONY: run test test-deps fmt-check vet vulncheck bench bench-ingest bench-sync bench-clinic bench-scale loadtest faults fuzz screenshots help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## start the product on http://localhost:8080 (development mode, demo data, fake LibreLinkUp)
	$(GO) run ./cmd/pgrun -install
	$(GO) run ./cmd/fsecgm serve --dev --addr $${ADDR:-:8080}

demo-offline: ## print the glucometrics of the demo data as a table (no database)
	$(GO) run ./cmd/fsecgm metrics --input testdata/iglu_example_5_subject.csv --table

test: fmt-check vet vulncheck test-deps ## gofmt check, go vet, govulncheck and the whole test suite against a private PostgreSQL
	$(PGRUN) $(GO) test -race -count=1 -timeout 30m $(PKGS)

test-deps: # Chromium and poppler-utils for the browser and PDF tests, installed when missing (scripts/testdeps.sh)
	@scripts/testdeps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

SHOTS := taccuino/testdata/screenshots/pages

screenshots: test-deps ## every page of the demo, as every persona, at 1280 and 390 px, checked (axe-core, widths) and saved in taccuino/testdata/screenshots/pages
	rm -rf $(SHOTS) && mkdir -p $(SHOTS)
	FSECGM_SCREENSHOT_DIR=$(CURDIR)/$(SHOTS) $(PGRUN) $(GO) test -count=1 -timeout 30m -run '^TestBrowserEveryPage$$' ./taccuino
	@printf 'screenshots: %s files in %s\n' "$$(ls $(SHOTS) | wc -l)" $(SHOTS)

bench: ## engine benchmarks; prints metrics_vs_sum_ratio (goal <= 20) and extended_vs_sum_ratio (goal <= 60)
	@mkdir -p $(BENCH)
	$(GO) test -run '^$$' -bench 'Metrics|Sum|Extended' -benchmem -count 5 ./agp | tee $(BENCH)/agp.txt
	@awk 'function upd(k,v){ if(!(k in min) || v<min[k]) min[k]=v } \
	  /^Benchmark/ { name=$$1; sub(/-[0-9]+$$/,"",name); upd(name,$$3) } \
	  END { printf "metrics_vs_sum_ratio: %.2f\n", min["BenchmarkMetrics14d1min"]/min["BenchmarkSum14d1min"]; \
	        printf "metrics_vs_sum_ratio_90d15min: %.2f\n", min["BenchmarkMetrics90d15min"]/min["BenchmarkSum90d15min"]; \
	        printf "extended_vs_sum_ratio: %.2f\n", min["BenchmarkExtended14d1min"]/min["BenchmarkSum14d1min"]; \
	        printf "extended_vs_sum_ratio_90d15min: %.2f\n", min["BenchmarkExtended90d15min"]/min["BenchmarkSum90d15min"] }' $(BENCH)/agp.txt

bench-ingest: ## store: ingestion vs COPY, re-ingestion, bytes per reading, window metrics, compressed history, a year of Apple Health import vs XML tokenization (about four minutes)
	$(GO) run ./cmd/benchingest

bench-sync: ## one replica syncing 2,000 simulated connections of each source (LibreLinkUp, Dexcom, Nightscout; fakes in a separate process) against the store alone
	$(GO) run ./cmd/benchsync

bench-clinic: ## clinic list vs count(*) and summary upkeep per patient, 13,200 patients x 90 days (about 10 min, 9 GB temporary)
	$(GO) run ./cmd/benchclinic

bench-scale: ## 1,000, 2,000 and 4,000 patients x 60 days through Ingest: each cost's growth, and the table for 500,000 patients (about 10 min)
	$(GO) run ./cmd/benchscale

vulncheck: ## govulncheck against the Go vulnerability database built offline from the module proxy (accepted: scripts/vulncheck/accepted.txt)
	$(GO) run ./scripts/vulncheck

loadtest: ## read paths' CPU per request vs /readyz (read_path_cpu_vs_readyz_ratio, goal <= 4) and p99 at 10x the region's peak (about three minutes; -ramp: the older rate ramp)
	$(GO) run ./cmd/loadtest

faults: ## kill -9, PostgreSQL down, LibreLinkUp and record-server faults on loopback; prints "faults: N passed, M failed"
	$(GO) run ./cmd/faults

fuzz: ## run every fuzz target for FUZZTIME (default 15s) each; crashers land in testdata/fuzz (scripts/fuzz.sh)
	GO="$(GO)" FUZZTIME="$(FUZZTIME)" scripts/fuzz.sh $(PKGS)