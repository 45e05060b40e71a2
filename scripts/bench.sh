#!/usr/bin/env bash
# Reproduces the README's performance figures, side by side in one run.
# Usage: ./scripts/bench.sh [events] [cards]     (default 1000000 events over 100000 cards)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
events=${1:-1000000}
cards=${2:-100000}
bin=$(mktemp -d)/cepd
ref=$(mktemp --suffix=.jsonl)
trap 'rm -f "$ref" "$bin"' EXIT
go build -o "$bin" ./cmd/cepd
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== matcher alone, five pattern shapes (ns per event, allocations, bytes per live partial match)"
go test ./nfa -run '^$' -bench BenchmarkMatcher -benchmem -benchtime 200000x | grep Benchmark
echo "== one condition: closure vs CEL interpreter vs memo hit"
go test ./rules -run '^$' -bench 'BenchmarkCondition$|BenchmarkConditionMemo' -benchmem | grep Benchmark
echo "== the fraud rules over 100000 generated events, one shard: reference paths (interpreter, every run visited), closures only, closures + guards"
go test ./cmd/cepd -run '^$' -bench FraudPaths -benchtime 100000x -benchmem | grep Benchmark
echo "== a key with nothing live: CanStart per event for every rule, for those the type index keeps, for those the type and the start-guard pins keep"
go test ./cmd/cepd -run '^$' -bench StartIndex -benchtime 300000x -benchmem | grep Benchmark
echo "== card testing, 1M events over 10k cards: cepd (one shard) beside a hand-written matcher with the same decoder (ratios hand/cepd)"
go test ./cmd/cepd -run '^$' -bench CardTesting -benchtime 3x | grep Benchmark
echo "== decoding one event"
go test ./event/jsondecode -run '^$' -bench Decode -benchmem | grep Benchmark
echo "== key-state encoding"
go test ./state -run '^$' -bench 'EncodeKeyState|DecodeKeyState' -benchmem | grep Benchmark
echo "== reference workload: $events events over $cards cards, all rules in testdata/fraud"
"$bin" gen --seed 1 --cards "$cards" --events "$events" --out "$ref" 2>/dev/null
"$bin" bench --rules testdata/fraud --events "$ref" --out-of-orderness 5s
echo "== the same, rules one at a time (events/s each)"
for f in testdata/fraud/*.yaml; do
	[ "$(basename "$f")" = schema.yaml ] && continue
	printf '  %-26s ' "$(basename "$f" .yaml)"
	"$bin" bench --rules "$f" --schema testdata/fraud/schema.yaml --events "$ref" --out-of-orderness 5s | sed -n 2p | awk '{print $2, $3}'
done
echo "== detection latency at a fixed offered rate of 20000 events/s"
"$bin" bench --rules testdata/fraud --events "$ref" --out-of-orderness 5s --rate 20000 --chunk 64 | grep "^latency"
echo "== the same with the garbage collector off (shows what bounds the tail)"
GOGC=off "$bin" bench --rules testdata/fraud --events "$ref" --out-of-orderness 5s --rate 20000 --chunk 64 | grep "^latency"
echo "== detection latency at half the measured maximum rate, zero out-of-orderness"
"$bin" bench --rules testdata/fraud --events "$ref" --half-rate --chunk 64 | grep -E '^(throughput|at half the rate)'
