#!/usr/bin/env bash
# Socketmap benchmark of "mtasts daemon" (issue 4), side by side in one run
# with the Python mta-sts-daemon of Debian's postfix-mta-sts-resolver and a
# constant-answer server (bench/socketmap/ceiling, the same socketmap
# engine without any lookup: the most this harness can measure here), and
# the kernel floor (bench/socketmap/floor: one epoll thread with raw read
# and write calls, no protocol engine: what the kernel alone costs per
# answer).
#
#   1. Cached answers: 1000 warm domains, asked in turn over 1, 8 and 64
#      persistent connections that each send one request at a time, as
#      Postfix's smtp(8) processes do: queries/s, p50 and p99 latency, and
#      each server's own CPU time per answer (utime+stime of
#      /proc/PID/stat before and after, divided by the answers).
#   2. Uncached domains: 10 000 domains never seen, over 64 connections:
#      time to answer all, the server's CPU time, and its peak RSS (VmHWM).
#
# Every server runs inside a network namespace of its own where a test
# world (internal/testenv/testworld) is the internet: DNS on 127.0.0.1:53 and the
# policy hosts on port 443, with certificates from a private CA
# (SSL_CERT_FILE for the Python daemon, --ca-file for mtasts). Servers warm
# up by really fetching every policy. The Python daemon gets cache_grace =
# 86400 and mtasts --recheck-interval 24h, so that warm domains are
# answered from the caches alone. Python runs twice: with its "internal"
# (in-memory) cache and with "sqlite", the cache of Debian's default
# /etc/mta-sts-daemon.yml. mtasts runs with its default cache (SQLite
# behind its in-process layer); MTASTS_BENCH_CACHE=memory: changes that.
#
# Needs root (network namespaces), Go, and the Debian package
# postfix-mta-sts-resolver. The load generator shares the CPUs with the
# servers.
#
# Usage: bench/socketmap/run.sh [SECONDS]   (seconds per measurement, default 5)
# Environment: MTASTS_BENCH_SERVERS (default
# floor,ceiling,mtasts,python-internal,python-sqlite), MTASTS_BENCH_CONNS
# (default 1,8,64), MTASTS_BENCH_CACHE, MTASTS_BENCH_SERVER_ENV (extra
# environment of every server, e.g. "GOMAXPROCS=1"), MTASTS_BENCH_NETWORK
# (tcp, the default, or unix: every server on a UNIX-domain socket),
# MTASTS_BENCH_WARM (number of warm domains, default 1000).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: network namespaces need root" >&2
	exit 3
fi
if [ ! -x /usr/bin/mta-sts-daemon ]; then
	echo "run.sh: install the Debian package postfix-mta-sts-resolver" >&2
	exit 3
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/mtasts" ./cmd/mtasts
go build -o "$work/ceiling" ./bench/socketmap/ceiling
go build -o "$work/floor" ./bench/socketmap/floor

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# $(uname -sr), $(go version | cut -d' ' -f3), mtasts $(git describe --always --dirty 2>/dev/null || echo "?"),"\
	"postfix-mta-sts-resolver $(dpkg-query -W -f='${Version}' postfix-mta-sts-resolver), $(python3 --version)"

MTASTS_BENCH=1 MTASTS_BENCH_SECONDS="${1:-5}" MTASTS_BIN="$work/mtasts" CEILING_BIN="$work/ceiling" FLOOR_BIN="$work/floor" \
	go test -count=1 -v -timeout 60m -run 'TestCachedAnswers|TestUncachedDomains' ./bench/socketmap |
	grep -E '^(\||---|ok|FAIL|panic)|_test.go'
