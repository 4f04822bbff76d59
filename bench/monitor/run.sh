#!/usr/bin/env bash
# Benchmark of the monitor of mtasts serve (issue 13): rounds of checks of
# every served domain, over the benchmark world of bench/check (a domain's
# record, policy host, MX host with STARTTLS and TLS-RPT record each),
# served by another process on the real ports 25 and 443 of 127.2.0.x:
# run as root. We measure, per round, CPU time (user + system) and bytes
# allocated per domain, the heap after the round and the peak RSS of the
# monitor's process, which checks with the real code of package check and
# records into a SQLite report store. The world's own CPU is not counted.
#
# Usage: bench/monitor/run.sh [DOMAINS] [ROUNDS] [CONCURRENCY]
#   defaults: 1000 domains, 3 rounds, concurrency 8 (the monitor's default)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"

domains=${1:-1000}
rounds=${2:-3}
concurrency=${3:-8}
addrs=${MTASTS_BENCH_ADDRS:-50}

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: the world listens on ports 25 and 443; run as root" >&2
	exit 3
fi

work=$(mktemp -d)
world=""
cleanup() {
	if [ -n "$world" ]; then
		kill "$world" 2>/dev/null || true
		wait "$world" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go test -c -o "$work/world.test" ./bench/check
go test -c -o "$work/monitor.test" ./bench/monitor

MTASTS_BENCH_WORLD=$work MTASTS_BENCH_DOMAINS=$domains MTASTS_BENCH_ADDRS=$addrs \
	"$work/world.test" -test.run '^TestServeWorld$' -test.timeout 0 >"$work/world.log" 2>&1 &
world=$!
for _ in $(seq 600); do
	[ -e "$work/ready" ] && break
	kill -0 "$world" 2>/dev/null || { cat "$work/world.log" >&2; exit 3; }
	sleep 0.2
done
[ -e "$work/ready" ] || { echo "run.sh: the world did not start" >&2; exit 3; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
echo "world:   $(cat "$work/ready")"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
MTASTS_BENCH_WORLD=$work MTASTS_BENCH_ROUNDS=$rounds MTASTS_BENCH_CONCURRENCY=$concurrency \
	"$work/monitor.test" -test.run '^TestMonitorRounds$' -test.timeout 0 -test.v=false
