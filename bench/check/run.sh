#!/usr/bin/env bash
# Benchmark of "mtasts check -f" in bulk mode (issue 3): the real binary
# checks every domain of a testworld with MX probes, at several
# concurrencies, and we measure domains/s, peak RSS of the mtasts process
# (GNU time's maximum resident set size) and its CPU time (user + system)
# per domain, which depends much less than domains/s on what else runs on
# the machine.
#
# The world (DNS server, private CA, one HTTPS and one ESMTP server for
# all hosts) runs in a separate process, built from TestServeWorld of this
# directory, listening on the real ports 25 and 443 of 127.2.0.x: run this
# script as root. Both processes share this machine's CPUs.
#
# Usage: bench/check/run.sh [DOMAINS] [CONCURRENCY...]
#   DOMAINS      world size (default 10000)
#   CONCURRENCY  values of --concurrency to try (default 8 16 32 64 128 256)
# Environment: MTASTS_BENCH_ADDRS, addresses the world listens on (default 250).
#
# Other processes on the machine skew the numbers: the last column is the
# 1-minute load average when each run started (the two processes of the
# benchmark alone bring it to about 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"

domains=${1:-10000}
shift || true
concurrency=${*:-8 16 32 64 128 256}
addrs=${MTASTS_BENCH_ADDRS:-250}

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: the world listens on ports 25 and 443; run as root" >&2
	exit 3
fi
for cmd in /usr/bin/time go; do
	command -v "$cmd" >/dev/null || { echo "run.sh: $cmd is needed" >&2; exit 3; }
done

# shellcheck source=bench/check/world.sh
. bench/check/world.sh
go build -o "$work/mtasts" ./cmd/mtasts
start_world "$domains" "$addrs"
echo
echo "| --concurrency | domains | seconds | domains/s | peak RSS (MiB) | mtasts CPU (ms/domain) | exit | load avg before |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in $concurrency; do
	status=0
	load=$(cut -d' ' -f1 /proc/loadavg)
	/usr/bin/time -f '%e %M %U %S' -o "$work/time" \
		"$work/mtasts" check -f "$work/domains.txt" --jsonl --concurrency "$c" \
		--resolver "$(cat "$work/resolver")" --ca-file "$work/ca.pem" \
		>"$work/out.jsonl" 2>"$work/err" || status=$?
	# GNU time puts "Command exited with non-zero status N" first on failure.
	read -r secs kb usr sys < <(tail -n 1 "$work/time")
	lines=$(wc -l <"$work/out.jsonl")
	ok=$(grep -c '"status":"ok"' "$work/out.jsonl" || true)
	if [ "$lines" -ne "$domains" ] || [ "$ok" -ne "$domains" ]; then
		echo "run.sh: --concurrency $c: $lines results, $ok ok, for $domains domains" >&2
		head -c 2000 "$work/err" >&2
	fi
	awk -v c="$c" -v n="$lines" -v s="$secs" -v kb="$kb" -v cpu="$usr $sys" -v st="$status" -v l="$load" \
		'BEGIN { split(cpu, t, " "); printf "| %d | %d | %.2f | %.0f | %.0f | %.2f | %d | %s |\n", c, n, s, n / s, kb / 1024, 1000 * (t[1] + t[2]) / n, st, l }'
done
