#!/bin/sh
# fuzz.sh runs every Go fuzz target of the module (func FuzzX in a
# _test.go file) for FUZZTIME each (default 15s; a count such as 20000x
# works too), one after the other, and prints a summary line:
#
#   fuzz: N targets, P passed, F failed, K deadline flakes
#
# A target fails when it finds a crasher: go test writes the input to the
# package's testdata/fuzz/FuzzX/ (commit it: it becomes a regression test).
# FUZZMINIMIZETIME (default 2s) bounds the minimization of each new
# interesting input.
# Go 1.26 sometimes fails a target with a bare "context deadline exceeded"
# at the end of -fuzztime, writing no input: a race in the fuzzing
# coordinator (go.dev/issue/75804, fixed in Go 1.27). Such a run is counted
# as a flake, not a failure. Exit status 1 when any target failed.
#
# FUZZ_KEEP=N copies, after each target, the N smallest inputs the fuzzer
# found interesting (its cache corpus, under $(go env GOCACHE)/fuzz) into
# the package's testdata/fuzz/FuzzX/, where go test runs them as seeds: the
# kept corpus, to commit.
#
#   scripts/fuzz.sh                 # every target
#   FUZZTIME=10s scripts/fuzz.sh ./connectors/...   # some packages
set -u
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-15s}
FUZZ_KEEP=${FUZZ_KEEP:-0}
# Minimizing a new input (default: up to 60 s each) would eat a short run:
# large seeds (FHIR Bundles of 14 KB) spend all of it there.
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-2s}
cache="$($GO env GOCACHE)/fuzz"
cd "$(dirname "$0")/.."
[ $# -eq 0 ] && set -- ./...
log=$(mktemp)
trap 'rm -f "$log"' EXIT
total=0 passed=0 failed=0 flaky=0 failures=""
for dir in $($GO list -f '{{.Dir}}' "$@"); do
	targets=$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u)
	[ -z "$targets" ] && continue
	pkg=$($GO list "$dir")
	for f in $targets; do
		total=$((total + 1))
		corpus="$dir/testdata/fuzz/$f"
		before=$(ls "$corpus" 2>/dev/null | wc -l)
		echo "== $pkg $f"
		if $GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg" >"$log" 2>&1; then
			passed=$((passed + 1))
			grep '^fuzz: elapsed' "$log" | tail -n 1
			if [ "$FUZZ_KEEP" -gt 0 ] && [ -d "$cache/$pkg/$f" ]; then
				mkdir -p "$corpus"
				for in in $(ls -S -r "$cache/$pkg/$f" | head -n "$FUZZ_KEEP"); do
					[ -f "$corpus/$in" ] || cp "$cache/$pkg/$f/$in" "$corpus/$in"
				done
			fi
			continue
		fi
		after=$(ls "$corpus" 2>/dev/null | wc -l)
		if [ "$after" -eq "$before" ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
			flaky=$((flaky + 1))
			echo "   deadline flake at the end of -fuzztime (go.dev/issue/75804), no failing input"
			continue
		fi
		failed=$((failed + 1))
		failures="$failures $pkg.$f"
		cat "$log"
	done
done
echo "fuzz: $total targets, $passed passed, $failed failed, $flaky deadline flakes (FUZZTIME=$FUZZTIME each)"
if [ "$failed" -gt 0 ]; then
	echo "failed:$failures (failing inputs are in each package's testdata/fuzz/)"
	exit 1
fi
