#!/usr/bin/env bash
# Instructions and simulated first-level cache misses of one garbage collection of the
# state the 17 fraud rules hold after 100,000 generated events (BenchmarkCollectState in
# cmd/cepd), counted by valgrind's cachegrind with one processor, whatever else the
# machine is doing. Not exactly deterministic: the engine's clock is the wall clock, so
# the state differs a little from run to run (repeats of one binary differ by up to 5%
# in instructions and 7% in misses, session 20): compare several runs. A collection's
# mark phase takes a core from the shards while it runs; this is its size (README, issue
# 13, session 20).
# Usage: ./scripts/gcmark.sh [TEST_BINARY of ./cmd/cepd]   (default: builds one)
# Needs valgrind (apt-get install valgrind). About three minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
bin=${1:-}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/cepd.test
	trap 'rm -rf "$(dirname "$bin")"' EXIT
	go test -c -o "$bin" ./cmd/cepd
fi
bin=$(realpath "$bin")
cd cmd/cepd
one() {
	GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 GOGC=off valgrind --tool=cachegrind --cache-sim=yes \
		--cachegrind-out-file=/dev/null "$bin" -test.run '^$' -test.bench 'CollectState$' \
		-test.benchtime "${1}x" 2>&1 >/dev/null |
		awk '/I +refs/ {gsub(",", "", $4); i = $4} /D1 +misses/ {gsub(",", "", $4); d = $4}
			END {printf "%.0f %.0f\n", i, d}'
}
# The benchmark framework runs N = 1 first, then N: 2x and 4x both replay the events
# twice, and differ by two collections.
read -r i1 d1 < <(one 2)
read -r i3 d3 < <(one 4)
awk -v i1="$i1" -v d1="$d1" -v i3="$i3" -v d3="$d3" 'BEGIN {
	printf "one collection: %.0f instructions, %.0f D1 misses\n", (i3 - i1) / 2, (d3 - d1) / 2 }'
