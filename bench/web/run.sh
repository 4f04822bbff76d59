#!/usr/bin/env bash
# Times the pages of the TLS report dashboard over 100 000 generated
# reports in SQLite (bench/web/bench_test.go), with two shapes of store:
# 40 domains, whose reports span ten months, and 400 domains, whose
# reports all fall into the last month (the overview's worst case).
#
# Usage: bench/web/run.sh [ITERATIONS]   (requests per page, default 50)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-50}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "# $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version)"
for domains in 40 400; do
	echo "== 100000 reports over $domains domains"
	MTASTS_BENCH_DB="$dir/reports-$domains.db" MTASTS_BENCH_DOMAINS=$domains \
		go test -run '^$' -bench . -benchtime "${n}x" -v ./bench/web/ | grep -E 'filled|^Benchmark'
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
