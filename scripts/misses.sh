#!/usr/bin/env bash
# Whole-process instructions and simulated cache misses of `cepd replay` over an event file,
# counted by valgrind's cachegrind: deterministic for the same binary and input, whatever
# else the machine is doing. The engine is memory-bound, so simulated first-level data
# misses are the figure to watch beside instructions (README, issue 13, session 19).
# Usage: ./scripts/misses.sh EVENTS.jsonl [CEPD_BINARY] [OUT]
#   cepd gen --seed 1 --cards 100000 --events 1000000 | head -300000 > ref300k.jsonl
#   ./scripts/misses.sh ref300k.jsonl                 # builds ./cmd/cepd
#   ./scripts/misses.sh ref300k.jsonl /tmp/cepd-base  # another commit's binary
# OUT (default /dev/null) keeps cachegrind's per-function counts for cg_annotate / cg_diff.
# One processor, no collector (GOGC=off), no asynchronous preemption (valgrind's signal
# handling and Go's preemption signals do not mix). Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
events=$(realpath "$1")
bin=${2:-}
out=${3:-/dev/null}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/cepd
	trap 'rm -rf "$(dirname "$bin")"' EXIT
	go build -o "$bin" ./cmd/cepd
fi
n=$(wc -l <"$events")
GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 GOGC=off valgrind --tool=cachegrind --cache-sim=yes \
	--cachegrind-out-file="$out" "$bin" replay --rules testdata/fraud --events "$events" \
	--end-of-stream=false 2>&1 >/dev/null |
	awk -v n="$n" '/I +refs/ {gsub(",", "", $4); i = $4}
		/I1 +misses/ {gsub(",", "", $4); i1 = $4}
		/D1 +misses/ {gsub(",", "", $4); d1 = $4}
		END {printf "%d events: %.0f instructions, %.0f D1 misses, %.0f I1 misses (per event %.0f, %.1f, %.1f)\n", n, i, d1, i1, i / n, d1 / n, i1 / n}'
