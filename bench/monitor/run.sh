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

# shellcheck source=bench/check/world.sh
. bench/check/world.sh
go test -c -o "$work/monitor.test" ./bench/monitor
start_world "$domains" "$addrs"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
MTASTS_BENCH_WORLD=$work MTASTS_BENCH_ROUNDS=$rounds MTASTS_BENCH_CONCURRENCY=$concurrency \
	"$work/monitor.test" -test.run '^TestMonitorRounds$' -test.timeout 0 -test.v=false
