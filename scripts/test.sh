#!/usr/bin/env bash
# Runs every check and test of cepd on a Debian machine, installing what it needs.
# Usage: ./scripts/test.sh            (from anywhere; CI runs it through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

step() { printf '\n==> %s\n' "$*"; }

# System packages the tests need (servers are started by the tests themselves, on
# 127.0.0.1 only). Installed only when missing; apt is retried because a mirror fetch
# occasionally fails once.
# Each entry is COMMAND:DEBIAN_PACKAGE.
apt_needs=(git:git redis-server:redis-server chromium:chromium curl:curl jq:jq promtool:prometheus)
missing=()
for pair in "${apt_needs[@]}"; do
	bin=${pair%%:*}; pkg=${pair##*:}
	command -v "$bin" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	step "installing ${missing[*]}"
	SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
	for i in 1 2 3; do
		if $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; then break; fi
		[ "$i" = 3 ] && { echo "apt-get install failed" >&2; exit 1; }
		sleep 3
	done
fi

if ! command -v staticcheck >/dev/null 2>&1; then
	step "installing staticcheck"
	GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.7.0
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi

step "go vet"
go vet ./...

step "staticcheck"
staticcheck ./...

step "go test"
# cmd/cepd (the process-level tests) is the long package. Its fault tests' runs (kill -9,
# hand-offs, rekeying, Redis Cluster) each have their own broker and Redis and spend most
# of their 20-50 s waiting on kill schedules and session timeouts, not on the CPU, so four
# go at once (-parallel 4; only cmd/cepd and two Redis packages have parallel tests). The
# timeout keeps a hang inside the 15-minute budget.
go test -count=1 -timeout 13m -parallel 4 ./...

step "conformance"
go build -o /tmp/cepd-test-bin ./cmd/cepd
corpora=(testdata/conformance)
[ -d ../shared/conformance/cases ] && corpora+=(../shared/conformance/cases)
/tmp/cepd-test-bin conformance "${corpora[@]}"
