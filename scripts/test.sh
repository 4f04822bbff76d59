#!/usr/bin/env bash
# The project's test command (see README.md). On a fresh Debian machine it
# installs what the tests need, then runs formatting checks, go vet,
# staticcheck and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"

# Debian packages the tests use: real peers, not mocks. Tests that need one
# of them fail (rather than skip) when MTASTS_REQUIRE_SERVICES=1, as here.
packages=(
	ca-certificates curl
	postfix                  # real Postfix: postmap -q against the daemon, real deliveries
	# the libraries of Exim (exim4-daemon-light), unpacked below: real Exim deliveries
	libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0 libcrypt1
	postfix-mta-sts-resolver # an independent MTA-STS client and the benchmark baseline
	redis-server postgresql  # shared cache and report store backends
	pebble                   # a local ACME server for certificate issuance tests
	bind9                    # RFC 2136 dynamic updates of the _mta-sts record
	iproute2                 # network namespaces for clients that need ports 53/443
	dovecot-imapd            # a real IMAP server for the report mailbox poller
	chromium fonts-dejavu-core # the dashboard tested in a real headless browser
	prometheus               # promtool check rules on contrib/prometheus/alerts.yml
	systemd adduser          # the Debian package: systemd-analyze verify on its units, its system user
)
missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "installing: ${missing[*]}"
	# Postfix asks how to configure itself; the tests run private instances.
	echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
export MTASTS_REQUIRE_SERVICES=1

# Debian's Exim conflicts with postfix (both provide mail-transport-agent),
# so its binary is unpacked into a cache directory rather than installed;
# the Exim tests (internal/testenv/testexim) run it from there.
exim_root="${MTASTS_TEST_CACHE:-/var/cache/mtasts-test}/exim4-daemon-light"
if [ ! -x "$exim_root/usr/sbin/exim4" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	tmp=$(mktemp -d)
	chmod 755 "$tmp"
	(cd "$tmp" && { apt-get download exim4-daemon-light 2>/dev/null ||
		{ $sudo apt-get update -qq && apt-get download exim4-daemon-light; }; })
	$sudo mkdir -p "$exim_root"
	$sudo dpkg-deb -x "$tmp"/exim4-daemon-light_*.deb "$exim_root"
	rm -rf "$tmp"
fi
export MTASTS_EXIM="$exim_root/usr/sbin/exim4"

go mod download
staticcheck_version=v0.8.2
if ! command -v staticcheck >/dev/null 2>&1; then
	GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@${staticcheck_version}"
fi

echo "== go mod tidy"
cp go.mod /tmp/mtasts-go.mod.orig && cp go.sum /tmp/mtasts-go.sum.orig
go mod tidy
if ! cmp -s go.mod /tmp/mtasts-go.mod.orig || ! cmp -s go.sum /tmp/mtasts-go.sum.orig; then
	echo "go.mod/go.sum are not tidy: run go mod tidy"; git --no-pager diff go.mod; exit 1
fi
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
staticcheck ./...
echo "== go test"
# The corpus of real-world TLS reports lives beside the repository (never in
# it): shared/corpus/tlsrpt in some parent directory, or $TLSRPT_CORPUS.
# Where one is found its tests must run; say which.
if [ -z "${TLSRPT_CORPUS:-}" ]; then
	d=$(pwd)
	while :; do
		if [ -d "$d/shared/corpus/tlsrpt" ]; then
			export TLSRPT_CORPUS="$d/shared/corpus/tlsrpt"
			break
		fi
		[ "$d" = / ] && break
		d=$(dirname "$d")
	done
fi
if [ -n "${TLSRPT_CORPUS:-}" ]; then
	echo "TLS report corpus: $TLSRPT_CORPUS"
	export MTASTS_REQUIRE_CORPUS=1
else
	echo "NOTE: no shared/corpus/tlsrpt in any parent directory and no TLSRPT_CORPUS: the corpus tests of tlsrpt and ingest are skipped"
fi
go test -race -count=1 -timeout 15m ./...
echo "== build"
go build -o /dev/null ./cmd/mtasts
echo "all tests passed"
