# Sourced by the benchmark scripts that run over the world of
# TestServeWorld (bench/check/world_test.go): start_world DOMAINS ADDRS
# makes a work directory ($work), builds the world and starts it in the
# background ($world), waits until it is ready and prints the machine and
# the world; the EXIT trap stops it and removes $work.

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

start_world() {
	local domains=$1 addrs=$2
	go test -c -o "$work/world.test" ./bench/check
	MTASTS_BENCH_WORLD=$work MTASTS_BENCH_DOMAINS=$domains MTASTS_BENCH_ADDRS=$addrs \
		"$work/world.test" -test.run '^TestServeWorld$' -test.timeout 0 >"$work/world.log" 2>&1 &
	world=$!
	for _ in $(seq 600); do
		[ -e "$work/ready" ] && break
		kill -0 "$world" 2>/dev/null || { cat "$work/world.log" >&2; exit 3; }
		sleep 0.2
	done
	[ -e "$work/ready" ] || { echo "the benchmark world did not start" >&2; exit 3; }
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
	echo "world:   $(cat "$work/ready")"
}
