#!/usr/bin/env bash
# Instructions per op of one Go benchmark, counted by valgrind's cachegrind: steady to
# within about 0.4% from run to run on a shared machine, where CPU time swings by 15%.
# Usage: ./scripts/ir.sh PACKAGE BENCHMARK N [TESTBINARY]
#   ./scripts/ir.sh ./cmd/cepd FraudPaths/fast 30000
#   ./scripts/ir.sh ./event/jsondecode Decode/fast 50000
# It runs the benchmark at 1x and at (N+1)x with GOMAXPROCS=1 GOGC=off and prints
# (Ir(N+1) - Ir(1)) / N: the work of one op without the collector, cache misses or the
# second core. Give TESTBINARY (go test -c of PACKAGE at another commit) to count a base.
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
pkg=$1 bench=$2 n=$3
bin=${4:-}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/bench.test
	trap 'rm -rf "$(dirname "$bin")"' EXIT
	go test -c -o "$bin" "$pkg"
fi
cd "$pkg"
ir() {
	GOMAXPROCS=1 GOGC=off valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
		"$bin" -test.run '^$' -test.bench "$bench" -test.benchtime "${1}x" 2>&1 |
		awk '/I *refs/ {gsub(",", "", $NF); print $NF}'
}
a=$(ir 1)
b=$(ir $((n + 1)))
echo "$bench: $(((b - a) / n)) instructions per op ($(basename "$bin"))"
