#!/usr/bin/env bash
# Consumer-group scale-out of cepd: 1, 2 and 3 `cepd serve` processes in one group over a
# 12-partition topic, checkpointing to one Redis, side by side in one run.
#
# Usage: ./scripts/scale-bench.sh [events] [repetitions]   (default 600000 events, 3)
# Environment: COUNTS="1 2 3" (instance counts), PROCS=1 (GOMAXPROCS of each instance),
# PIN=1 (0: do not pin the instances to CPUs),
# PROFILE=1 (default: after the rounds, a 5 s CPU profile of one instance at 1 and at the
# largest count), OUT=file (the JSON lines; default: printed).
#
# What it does, once: builds cepd and cmd/devkafka; starts the broker (kfake over TCP)
# and a redis-server (no persistence) on 127.0.0.1; generates the reference workload
# (`cepd gen --seed 1`, 10% as many cards as events). Then, per round (instance count ×
# repetition), on a topic, consumer group, Redis prefix and alerts topic of its own (no
# state, no committed offsets): N instances start, instance i pinned with taskset to
# CPU i mod nproc and capped at GOMAXPROCS=$PROCS; once the group is stable (the N
# instances hold the 12 partitions, each at least one) the events are sent to the
# topic (`cepd produce`, keyed by card_id, as fast as the broker takes them). The
# instances join first so that no rebalance falls in the measurement: a rebalance under a
# deep backlog is another figure (see docs/scaling.md). The script samples every
# instance's /metrics (partitions held, lag) and /v1/stats every 200 ms until the lag is
# 0 and every event was processed.
#
# Per round it reports (one JSON line each):
#   steady_eps   events/s from the end of the produce (the whole round's events are in
#                the topic) until 90% are processed (Σ events of the instances' /v1/stats):
#                consumption alone, nothing else running but the broker and Redis;
#   e2e_eps      events / time from the start of the produce to the last event processed
#                (the producer competes for the CPUs);
#   cpu_*        CPU seconds of the cepd processes, the broker and redis-server from the
#                start of the produce to the end (from /proc/PID/stat), and re_read:
#                events processed beyond the topic's size (0 without rebalances), and
#                redis_in_bytes_per_event: bytes Redis received (checkpoints) per event.
# Then a table: min / median / max of each figure per instance count, and the median's
# ratio to one instance's.
#
# Everything listens on 127.0.0.1 and is stopped when the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
events=${1:-600000}
reps=${2:-3}
counts=${COUNTS:-"1 2 3"}
procs=${PROCS:-1}
profile=${PROFILE:-1}
pinned=${PIN:-1}
partitions=12
ncpu=$(nproc)
tck=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/cepd-scale-bench.XXXXXX)
declare -a owned=() # pids of every process this script started
cleanup() { # instances first (SIGTERM, SIGKILL after 5 s), then Redis and the broker
	local p i
	for p in "${owned[@]}"; do kill "$p" 2>/dev/null || true; done
	for i in $(seq 1 50); do
		alive=0
		for p in "${owned[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in "${owned[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for c in redis-server redis-cli jq curl taskset; do
	command -v "$c" >/dev/null || { echo "scale-bench: $c is needed (apt-get install -y redis-server jq curl util-linux)" >&2; exit 1; }
done

freeport() { # a port nobody answers on (and +10000 for a cluster bus, unused here)
	local p
	for _ in $(seq 1 100); do
		p=$(shuf -i 20000-45000 -n 1)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "scale-bench: no free port" >&2; exit 1
}
cpu_ticks() { # utime+stime of a process, in clock ticks (0 once it is gone)
	awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
now() { date +%s.%N; }
redis_in() { # bytes Redis has received (checkpoint writes, mostly)
	redis-cli -p "$rport" info stats | sed -n 's/^total_net_input_bytes:\([0-9]*\).*/\1/p'
}

echo "== building" >&2
go build -o "$work/cepd" ./cmd/cepd
go build -o "$work/devkafka" ./cmd/devkafka
bin=$work/cepd

topics=""
for rep in $(seq 0 "$reps"); do for n in $counts; do topics+="events-n$n-r$rep,"; done; done
"$work/devkafka" --port 0 --partitions "$partitions" --topics "${topics%,}" --quiet >"$work/devkafka.out" 2>&1 &
kpid=$!; owned+=("$kpid")
for _ in $(seq 1 100); do grep -q '^ready' "$work/devkafka.out" && break; sleep 0.05; done
kafka=$(awk '/^ready/{print $2; exit}' "$work/devkafka.out")
[ -n "$kafka" ] || { echo "devkafka did not start: $(cat "$work/devkafka.out")" >&2; exit 1; }
rport=$(freeport)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --logfile redis.log &
rpid=$!; owned+=("$rpid")
for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
raddr=127.0.0.1:$rport

echo "== workload: $events events over $((events / 10)) cards, to $partitions partitions" >&2
"$bin" gen --seed 1 --cards $((events / 10)) --events "$events" --out "$work/events.jsonl" 2>/dev/null

# start_instance ROUND I: starts instance I of ROUND in the background; sets ipid, iapi.
start_instance() {
	local round=$1 i=$2 dir=$work/$1-$2
	mkdir -p "$dir/rules"
	cp testdata/fraud/*.yaml "$dir/rules/"
	local pin=()
	[ "$pinned" = 1 ] && pin=(taskset -c $((i % ncpu)))
	"${pin[@]}" env GOMAXPROCS="$procs" "$bin" serve --http 127.0.0.1:0 --grpc 127.0.0.1:0 \
		--rules "$dir/rules" --data "$dir/data" --alerts-out= --out-of-orderness 5s \
		--kafka-brokers "$kafka" --kafka-topics "events-${round%-prof}" --kafka-group "g-$round" --kafka-client-id "cepd-$i" \
		--alerts-topic "alerts-$round" --redis-addr "$raddr" --redis-prefix "b-$round" >"$dir/log" 2>&1 &
	ipid=$!
	owned+=("$ipid")
}
api_of() { # the HTTP address a cepd log announces
	local log=$1
	for _ in $(seq 1 300); do
		a=$(sed -n 's/.*msg="cepd serving" http=http:\/\/\([^ ]*\).*/\1/p' "$log" | head -1)
		[ -n "$a" ] && { echo "$a"; return; }
		sleep 0.05
	done
	echo "scale-bench: cepd did not serve: $(tail -5 "$log")" >&2; exit 1
}

# sample APIS...: prints "held instances_holding lag events" over the instances: held
# counts the engine partitions (claimed and restored), lag the records not yet read.
sample() {
	local held=0 holding=0 lag=0 ev=0 m h l e
	for a in "$@"; do
		m=$(curl -s --max-time 2 "http://$a/metrics" | grep -E '^cepd_(kafka_lag_records|partition_backlog)' || true)
		h=$(printf '%s\n' "$m" | grep -c '^cepd_partition_backlog' || true)
		l=$(printf '%s\n' "$m" | awk '/^cepd_kafka_lag_records/ {s+=$2} END {printf "%d", s}')
		e=$(curl -s --max-time 2 "http://$a/v1/stats" | jq -r '.stats.events // 0')
		held=$((held + h)); lag=$((lag + l)); ev=$((ev + e))
		[ "$h" -gt 0 ] && holding=$((holding + 1))
	done
	echo "$held $holding $lag $ev"
}

# round N REP [profile]: one measured round; prints its JSON line.
round() {
	local n=$1 rep=$2 prof=${3:-} name="n$1-r$2${3:-}" pids=() apis=() i
	for i in $(seq 0 $((n - 1))); do start_instance "$name" "$i"; pids+=("$ipid"); done
	for i in $(seq 0 $((n - 1))); do apis+=("$(api_of "$work/$name-$i/log")"); done
	local held holding lag ev t tjoin
	tjoin=$(now)
	while :; do # the group is stable: the N instances hold the 12 partitions
		read -r held holding lag ev <<<"$(sample "${apis[@]}")"
		[ "$held" -eq "$partitions" ] && [ "$holding" -eq "$n" ] && break
		if awk -v a="$(now)" -v b="$tjoin" 'BEGIN{exit !(a-b > 120)}'; then echo "scale-bench: round $name: group not complete in 120s" >&2; return 1; fi
		sleep 0.2
	done
	sleep 1 # a rebalance still settling shows as held partitions moving: give it a moment
	local t0 k0 r0 ri0 c0=0
	t0=$(now); k0=$(cpu_ticks "$kpid"); r0=$(cpu_ticks "$rpid"); ri0=$(redis_in)
	for p in "${pids[@]}"; do c0=$((c0 + $(cpu_ticks "$p"))); done
	"$bin" produce --events "$work/events.jsonl" --kafka-brokers "$kafka" --topic "events-${name%-prof}" \
		--schema testdata/fraud/schema.yaml >"$work/$name.produce" 2>&1
	local tall eall tend="" eend="" tdone="" profpid=""
	read -r held holding lag ev <<<"$(sample "${apis[@]}")"
	tall=$(now); eall=$ev
	if [ -n "$prof" ]; then # 5 s CPU profile of instance 0 while it works through the backlog
		curl -s --max-time 15 "http://${apis[0]}/debug/pprof/profile?seconds=5" >"$work/$name.pprof" &
		profpid=$!
	fi
	while :; do
		read -r held holding lag ev <<<"$(sample "${apis[@]}")"
		t=$(now)
		if [ -z "$tend" ] && [ "$ev" -ge $((events * 9 / 10)) ]; then tend=$t; eend=$ev; fi
		if [ "$held" -eq "$partitions" ] && [ "$lag" -eq 0 ] && [ "$ev" -ge "$events" ]; then tdone=$t; break; fi
		if awk -v a="$t" -v b="$t0" 'BEGIN{exit !(a-b > 300)}'; then echo "scale-bench: round $name not done in 300s" >&2; break; fi
		sleep 0.2
	done
	local k1 r1 ri1 c1=0
	k1=$(cpu_ticks "$kpid"); r1=$(cpu_ticks "$rpid"); ri1=$(redis_in)
	for p in "${pids[@]}"; do c1=$((c1 + $(cpu_ticks "$p"))); done
	[ -n "$profpid" ] && wait "$profpid"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	jq -nc --argjson n "$n" --argjson rep "$rep" --argjson events "$events" --argjson procs "$procs" \
		--arg t0 "$t0" --arg tall "$tall" --arg eall "$eall" --arg tend "$tend" --arg eend "$eend" \
		--arg tdone "${tdone:-}" --argjson ev "$ev" --argjson tck "$tck" \
		--argjson ri $((ri1 - ri0)) --argjson cc $((c1 - c0)) --argjson kc $((k1 - k0)) --argjson rc $((r1 - r0)) '
		def num: if . == "" then null else tonumber end;
		($tdone|num) as $td | ($t0|num) as $s |
		{instances: $n, rep: $rep, gomaxprocs: $procs, events: $events,
		 steady_eps: (if ($tend|num) != null and ($tend|num) > ($tall|num)
			then ((($eend|num) - ($eall|num)) / (($tend|num) - ($tall|num)) | floor) else null end),
		 e2e_eps: (if $td != null then ($events / ($td - $s) | floor) else null end),
		 seconds: (if $td != null then (($td - $s) * 100 | floor) / 100 else null end),
		 produce_s: ((($tall|num) - $s) * 100 | floor / 100),
		 re_read: ($ev - $events),
		 cpu_cepd_s: ($cc / $tck), cpu_broker_s: ($kc / $tck), cpu_redis_s: ($rc / $tck),
		 redis_in_bytes_per_event: ($ri / $events * 10 | round / 10)}'
}

pinning="pinned to CPU i mod $ncpu"
[ "$pinned" = 1 ] || pinning="not pinned"
echo "== machine: $ncpu cores, load $(cut -d' ' -f1-3 /proc/loadavg); each instance GOMAXPROCS=$procs, $pinning" >&2
results=$work/results.jsonl
for rep in $(seq 1 "$reps"); do
	for n in $counts; do
		round "$n" "$rep" >>"$results" # not in a pipe: its instances stay in owned
		tail -1 "$results" >&2
	done
done

if [ "$profile" = 1 ]; then
	maxn=$(echo "$counts" | tr ' ' '\n' | sort -n | tail -1)
	for n in 1 "$maxn"; do
		round "$n" 0 -prof >/dev/null
		echo "== CPU profile of one of $n instance(s), 5 s in the steady state (go tool pprof -top)" >&2
		go tool pprof -top -nodecount 30 "$bin" "$work/n$n-r0-prof.pprof" 2>/dev/null | sed 's/^/   /' >&2 || true
		echo "== the same, summed by package (flat: where the CPU time is spent)" >&2
		go tool pprof -top -nodecount 100000 "$bin" "$work/n$n-r0-prof.pprof" 2>/dev/null |
			awk '$2 ~ /%$/ && NF >= 6 { name = $6; for (i = 7; i <= NF; i++) name = name " " $i
			     n = split(name, p, "/"); last = p[n]; sub(/[.(].*/, "", last); pkg = substr(name, 1, length(name) - length(p[n])) last
			     sub(/%/, "", $2); share[pkg] += $2 }
			     END { for (k in share) printf "   %6.1f%%  %s\n", share[k], k }' | sort -rn | head -15 >&2 || true
	done
fi

echo "== instances × events/s (min / median / max over $reps runs; ratio = median / median of 1 instance)"
printf '%-9s %-26s %-7s %-26s %-7s %-8s %-31s %s\n' instances "steady events/s" ratio "end-to-end events/s" ratio re-read "CPU µs/event cepd/broker/redis" "Redis B/event"
jq -s -r '
	def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
	def mmm(f): [.[] | f | select(. != null)] | if length == 0 then "-" else "\(min) / \(med) / \(max)" end;
	def median(f): [.[] | f | select(. != null)] | med;
	(map(select(.instances == 1)) | {s: median(.steady_eps), e: median(.e2e_eps)}) as $one |
	group_by(.instances)[] |
	[ (.[0].instances | tostring), mmm(.steady_eps),
	  (if $one.s then ((median(.steady_eps) // 0) / $one.s * 100 | round / 100 | tostring) else "-" end),
	  mmm(.e2e_eps),
	  (if $one.e then ((median(.e2e_eps) // 0) / $one.e * 100 | round / 100 | tostring) else "-" end),
	  (median(.re_read) | tostring),
	  ([.[] | .events] | add) as $ev |
	  "\(([.[] | .cpu_cepd_s] | add) * 1e6 / $ev | round) / \(([.[] | .cpu_broker_s] | add) * 1e6 / $ev * 10 | round / 10) / \(([.[] | .cpu_redis_s] | add) * 1e6 / $ev * 10 | round / 10)",
	  (median(.redis_in_bytes_per_event) | tostring) ] | @tsv' "$results" |
	awk -F'\t' '{printf "%-9s %-26s %-7s %-26s %-7s %-8s %-31s %s\n", $1, $2, $3, $4, $5, $6, $7, $8}'
if [ -n "${OUT:-}" ]; then cp "$results" "$OUT"; else echo "== JSON"; cat "$results"; fi
echo "== Redis memory after the rounds: $(redis-cli -p "$rport" info memory | sed -n 's/^used_memory_dataset:\(.*\)\r$/\1/p') B of data for $(redis-cli -p "$rport" dbsize | tr -d '\r') Redis keys"
keys=0 mem=0 blob=0
while read -r k; do
	h=$(redis-cli -p "$rport" hlen "$k"); keys=$((keys + h))
	mem=$((mem + $(redis-cli -p "$rport" memory usage "$k" samples 0)))
	blob=$((blob + $(redis-cli -p "$rport" --raw eval "local s=0 for _,v in ipairs(redis.call('HVALS',KEYS[1])) do s=s+#v end return s" 1 "$k")))
done < <(redis-cli -p "$rport" --scan --pattern '{cepd:b-n1-r1:*}:keys')
[ "$keys" -gt 0 ] && echo "== one round's checkpoint (n1-r1): $keys key states, $((mem / keys)) B of Redis memory per key state (MEMORY USAGE), of which $((blob / keys)) B is the encoded state"
