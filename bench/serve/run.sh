#!/usr/bin/env bash
# Requests per second of "mtasts serve" side by side with Debian's nginx
# serving the same policy file with the same certificate, measured with
# wrk over HTTPS, with keep-alive and with a new connection (and TLS
# handshake) per request ("Connection: close").
#
# Needs root (wrk resolves mta-sts.bench.test through a private /etc/hosts
# mounted in a mount namespace of its own, so that it sends SNI as a sender
# does) and the Debian packages nginx-light (or nginx), wrk and openssl.
#
# Usage: bench/serve/run.sh [SECONDS_PER_RUN] [RUNS] [CONNECTIONS]
# CASES=keepalive,close,keepalive-log,close-log (a comma-separated subset)
# runs only those cases; all four by default.
# Prints a Markdown table; the raw wrk output is kept in $WORK (printed).
# Both servers only ever listen on 127.0.0.1.
set -euo pipefail

SECONDS_PER_RUN=${1:-8}
RUNS=${2:-3}
CONNS=${3:-50}
HOST=mta-sts.bench.test
MTASTS_PORT=18443
NGINX_PORT=19443

root=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/mtasts-bench-serve.XXXXXX)
chmod 755 "$WORK" # nginx workers run as www-data
echo "work directory: $WORK" >&2
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# --- the binary, the certificate and the policy file -----------------------
(cd "$root" && go build -o "$WORK/mtasts" ./cmd/mtasts)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
mkdir -p "$WORK/www/.well-known" "$WORK/data"
printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.bench.test\r\nmx: *.mx.bench.test\r\nmax_age: 604800\r\n' \
	>"$WORK/www/.well-known/mta-sts.txt"
echo "127.0.0.1 $HOST" >"$WORK/hosts"

# --- mtasts serve ----------------------------------------------------------
start_mtasts() { # $1: access_log true|false
	cat >"$WORK/mtasts.toml" <<EOF
[serve]
listen_https = "127.0.0.1:$MTASTS_PORT"
listen_http = ""
listen_metrics = ""
data_dir = "$WORK/data"
access_log = $1
config_check = "0s"
[serve.limits]
max_conns_per_ip = 0
[[domain]]
name = "bench.test"
mode = "enforce"
mx = ["mx1.bench.test", "*.mx.bench.test"]
max_age = 604800
cert_file = "$WORK/cert.pem"
key_file = "$WORK/key.pem"
EOF
	"$WORK/mtasts" serve --config "$WORK/mtasts.toml" 2>"$WORK/mtasts.log" &
	pids+=($!)
	wait_port "$MTASTS_PORT"
}

# --- nginx -----------------------------------------------------------------
start_nginx() { # $1: access_log on|off
	local log="access_log off;"
	[ "$1" = on ] && log="access_log $WORK/nginx-access.log;"
	cat >"$WORK/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
daemon off;
events { worker_connections 4096; }
http {
	$log
	types { text/plain txt; }
	charset utf-8;
	server {
		listen 127.0.0.1:$NGINX_PORT ssl;
		server_name $HOST;
		ssl_certificate $WORK/cert.pem;
		ssl_certificate_key $WORK/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		keepalive_requests 1000000;
		root $WORK/www;
		location = /.well-known/mta-sts.txt { add_header Cache-Control no-store; }
		location / { return 404; }
	}
}
EOF
	nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" &
	pids+=($!)
	wait_port "$NGINX_PORT"
}

wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "nothing listens on port $1" >&2
	exit 1
}

stop_all() {
	cleanup
	pids=()
	sleep 0.5
}

# cpu_ticks PID... — user+system CPU of the processes, in clock ticks.
cpu_ticks() {
	local total=0 p
	for p in "$@"; do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$total"
}

# run_wrk PORT "PIDS" EXTRA_WRK_ARGS — one wrk run; prints requests/s and
# the server's CPU time per request in microseconds.
run_wrk() {
	local port=$1 pids=$2 extra=$3 out before after n rate
	before=$(cpu_ticks $pids)
	out=$(unshare -m sh -c "mount --bind '$WORK/hosts' /etc/hosts && exec wrk -t2 -c$CONNS -d${SECONDS_PER_RUN}s $extra https://$HOST:$port/.well-known/mta-sts.txt")
	after=$(cpu_ticks $pids)
	echo "$out" >>"$WORK/wrk.log"
	if echo "$out" | grep -q "Non-2xx"; then
		echo "non-2xx answers: $out" >&2
		exit 1
	fi
	n=$(echo "$out" | awk '/requests in/ {print $1}')
	rate=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
	echo "$rate $(echo "($after - $before) * 1000000 / $(getconf CLK_TCK) / $n" | bc -l)"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() { # $1 label, $2 log setting for mtasts, $3 for nginx, $4 wrk args
	local mr=() nr=() mc=() nc=() ratio=() a b
	start_mtasts "$2"
	local mpids=${pids[-1]}
	start_nginx "$3"
	local npids="${pids[-1]} $(pgrep -P "${pids[-1]}" | tr '\n' ' ')"
	for _ in $(seq "$RUNS"); do
		read -r ar ac <<<"$(run_wrk "$MTASTS_PORT" "$mpids" "$4")"
		read -r br bc_ <<<"$(run_wrk "$NGINX_PORT" "$npids" "$4")"
		mr+=("$ar") nr+=("$br") mc+=("$ac") nc+=("$bc_")
		ratio+=("$(echo "$ar / $br" | bc -l)")
	done
	stop_all
	printf '| %s | %.0f | %.0f | %.2f | %.0f | %.0f |\n' "$1" \
		"$(printf '%s\n' "${mr[@]}" | median)" "$(printf '%s\n' "${nr[@]}" | median)" \
		"$(printf '%s\n' "${ratio[@]}" | median)" \
		"$(printf '%s\n' "${mc[@]}" | median)" "$(printf '%s\n' "${nc[@]}" | median)"
}

echo "Each figure is the median of $RUNS runs of ${SECONDS_PER_RUN}s (wrk -t2 -c$CONNS), mtasts and nginx alternating;"
echo "the ratio is the median of the per-pair ratios; CPU is the server's user+system time per request."
echo
echo "| case | mtasts serve (req/s) | nginx (req/s) | ratio | mtasts CPU (µs/req) | nginx CPU (µs/req) |"
echo "|---|---:|---:|---:|---:|---:|"
want() { [ -z "${CASES:-}" ] || [[ ",$CASES," == *",$1,"* ]]; }
want keepalive && measure "keep-alive, no access log" false off ""
want close && measure "new connection per request, no access log" false off "-H 'Connection: close'"
want keepalive-log && measure "keep-alive, access log on" true on ""
want close-log && measure "new connection per request, access log on" true on "-H 'Connection: close'"
exit 0
