#!/usr/bin/env bash
# The README's shell examples that talk to cepd, each block copied verbatim, run against a
# real cepd by `go test ./cmd/cepd -run TestReadmeExamples` (which also fails when a block
# of README.md is missing here: edit both together). By hand: start cepd serve, then
#   CEPD_BIN=$(command -v cepd) CEPD_ADDR=127.0.0.1:8080 scripts/readme-examples.sh
# from a directory holding testdata/ (a link to the repository's) and the server's
# cepd-data/.
set -euo pipefail
: "${CEPD_BIN:?the cepd binary}" "${CEPD_ADDR:?the address cepd serves HTTP on}"

cepd() { "$CEPD_BIN" "$@"; }

# curl sends the README's requests to $CEPD_ADDR and fails on an HTTP error; the streaming
# examples end by their --max-time (exit status 28).
curl() {
	local args=("${@//localhost:8080/$CEPD_ADDR}") rc=0
	command curl --fail-with-body "${args[@]}" || rc=$?
	if [ "$rc" = 28 ] && [[ "$*" == *":stream"* ]]; then rc=0; fi
	echo
	return "$rc"
}

# ---- README block
curl -s -XPOST --data-binary @testdata/fraud/examples/card-testing.jsonl localhost:8080/v1/events
curl -s 'localhost:8080/v1/alerts?rule_id=card-testing&limit=5'
curl -s localhost:8080/healthz

# ---- README block
cepd test testdata/fraud            # every NAME.test.yaml under the directory
# 92 passed, 0 failed
cepd test testdata/fraud/card-testing.yaml -v   # one rule's tests, a line per case

# ---- README block
curl -s -XPOST localhost:8080/v1/rules:validate -d '{"source": "id: x\npattern:\n  - name: a\n    where: e.amout > 1\n"}'
# {"errors":[{"line":4,"column":13,"message":"where: undefined field 'amout': ..."}]}
curl -s -XPOST localhost:8080/v1/rules -d '{"source": "id: big-auth\npattern:\n  - name: big\n    where: e.amount > 1000.0\n", "comment": "first version"}'
curl -s -XPUT localhost:8080/v1/rules/big-auth -d '{"source": "id: big-auth\npattern:\n  - name: big\n    where: e.amount > 5000.0\n", "comment": "a higher bar"}'
curl -s -XPUT localhost:8080/v1/rules/big-auth -d '{"source": "id: big-auth\npattern:\n  - name: big\n    where: e.amount > 5000.0\n", "tests": "tests:\n  - name: a very big one alerts\n    events: [{card_id: c1, type: auth, amount: 6000.0}]\n    alerts: [{steps: {big: [e1]}}]\n", "comment": "with its tests"}'
curl -s -XPUT localhost:8080/v1/rules/big-auth -d '{"source": "id: big-auth\npattern:\n  - name: big\n    where: e.amount > 9000.0\n", "force": true, "comment": "its tests fail: forced"}'
curl -s 'localhost:8080/v1/audit?rule_id=big-auth&limit=1'    # tests_forced: the failing tests' report
curl -s -XPOST localhost:8080/v1/rules:test -d '{"source": "id: big-auth\npattern:\n  - name: big\n    where: e.amount > 1000.0\n", "tests": "tests:\n  - name: a big one alerts\n    events: [{card_id: c1, type: auth, amount: 2000.0}]\n    alerts: [{steps: {big: [e1]}}]\n"}'
# {"passed":1,"failed":0,"cases":[{"name":"a big one alerts","line":2,"passed":true,...}]}
curl -s localhost:8080/v1/rules/big-auth/versions
curl -s -XPOST localhost:8080/v1/rules/big-auth:rollback -d '{"version": 1}'
curl -s -XPOST localhost:8080/v1/rules/big-auth:setMode -d '{"mode": "shadow"}'
curl -sN --max-time 2 localhost:8080/v1/alerts:stream                      # newline-delimited JSON
curl -sN --max-time 2 -H 'Accept: text/event-stream' 'localhost:8080/v1/alerts:stream?severity=high'  # server-sent events
curl -s localhost:8080/v1/admin/stats

# ---- README block
cepd gen --seed 1 --cards 1000 --events 20000 --out cepd-data/backtests/day.jsonl
bt=$(curl -s -XPOST localhost:8080/v1/backtests -d '{"rules": [{"rule_id": "card-testing"},
  {"source": "id: draft\npattern:\n  - name: big\n    where: e.amount > 900.0\n"}],
  "events_file": "day.jsonl", "label_field": "label"}' | jq -r .id)
curl -s localhost:8080/v1/backtests/$bt             # state, progress, results
curl -s -XPOST localhost:8080/v1/backtests/$bt:cancel -d '{}'

# ---- README block
curl -s -XPOST localhost:8080/v1/rules:validate -d '{"source": "id: x\npattern:\n  - name: a\n    where: e.type == \"auth\"\n    times: 1+\n  - name: b\n    where: e.amount > 1000.0\n"}'
# {"errors":[],"warnings":[{"line":5,"column":5,"message":"step 'a' repeats without bound and the rule has no `within`: ..."}]}

# ---- README block
curl -s -XPOST localhost:8080/v1/lists -d '{"name": "device_block", "kind": "BLOCK", "content": "d-1\nd-2\n", "comment": "case 17"}'
curl -s -XPOST localhost:8080/v1/lists/device_block:add -d '{"values": ["d-3"], "comment": "chargeback 991"}'
curl -s -XPOST localhost:8080/v1/lists/device_block:remove -d '{"values": ["d-1"]}'
curl -s -XPOST localhost:8080/v1/lists/device_block:import -d '{"content": "device_id,source\nd-7,case 18\nd-8,case 18\n", "header": true}'
curl -s 'localhost:8080/v1/lists/device_block?include_entries=true'
curl -s localhost:8080/v1/lists/device_block/versions
curl -s 'localhost:8080/v1/lists:audit?name=device_block&limit=5'
curl -s localhost:8080/v1/lists                  # every list and table, with the rules reading each
curl -s -XDELETE localhost:8080/v1/lists/device_block

# ---- README block
curl -s localhost:8080/v1/schema | jq -r .source > schema.yaml     # the running schema's text
echo '  risk_flag: string?   # the issuer screening flag' >> schema.yaml
jq -n --rawfile s schema.yaml '{source: $s, comment: "issuer flag"}' | curl -s -XPUT localhost:8080/v1/schema -d @-
curl -s localhost:8080/v1/schema/versions | jq -c '[.versions[] | {version, action, author}]'
