#!/usr/bin/env bash
# Builds the Debian package of mtasts from this checkout:
#
#   packaging/deb/build.sh [OUTDIR]      (default OUTDIR: dist)
#
# It needs Go and dpkg-deb, no daemon and no root. The package is
# reproducible: the same commit gives the same bytes (file times are the
# commit's time, owners root, the binary built with -trimpath and no build
# id). VERSION and COMMIT in the environment override what git says.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-$top/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$top"

commit=${COMMIT:-$(git rev-parse --short=12 HEAD)}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}
if [ -z "${VERSION:-}" ]; then
	# A Debian version must start with a digit: the newest tag vX.Y.Z
	# gives X.Y.Z, plus ~git<date>.<commit> when HEAD is past it.
	tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)
	base=${tag#v}
	[ -n "$base" ] || base=0.0.0
	if [ -n "$tag" ] && [ "$(git rev-list -n1 "$tag")" = "$(git rev-parse HEAD)" ]; then
		VERSION=$base
	else
		VERSION="$base~git$(date -u -d "@$epoch" +%Y%m%d%H%M%S).$commit"
	fi
fi
arch=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=$epoch

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/mtasts" \
	"$root/usr/share/doc/mtasts/prometheus" "$root/usr/share/doc/mtasts/grafana" "$root/usr/share/man/man1" \
	"$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
	"$root/usr/share/fish/vendor_completions.d"

# The binary: static (the SQLite driver is pure Go), no paths of this
# machine, version and commit for "mtasts --version".
CGO_ENABLED=0 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -buildid= -X github.com/mtasts/mtasts/internal/buildinfo.version=$VERSION -X github.com/mtasts/mtasts/internal/buildinfo.commit=$commit" \
	-o "$root/usr/bin/mtasts" ./cmd/mtasts
bin=$root/usr/bin/mtasts

"$bin" man --dir "$stage/man"
for f in "$stage"/man/*.1; do
	gzip -9n <"$f" >"$root/usr/share/man/man1/$(basename "$f").gz"
done
"$bin" completion bash >"$root/usr/share/bash-completion/completions/mtasts"
"$bin" completion zsh >"$root/usr/share/zsh/vendor-completions/_mtasts"
"$bin" completion fish >"$root/usr/share/fish/vendor_completions.d/mtasts.fish"

install -m 0644 contrib/systemd/mtasts-daemon.service contrib/systemd/mtasts-serve.service "$root/lib/systemd/system/"
install -m 0640 "$here/mtasts.toml" "$root/etc/mtasts/mtasts.toml"
install -m 0644 README.md docs/mtasts.example.toml "$root/usr/share/doc/mtasts/"
for f in docs/*.md; do install -m 0644 "$f" "$root/usr/share/doc/mtasts/"; done
# The monitor's alerting rules and dashboard, to copy into Prometheus and Grafana.
install -m 0644 contrib/prometheus/alerts.yml "$root/usr/share/doc/mtasts/prometheus/"
install -m 0644 contrib/grafana/mtasts-monitor.json "$root/usr/share/doc/mtasts/grafana/"
install -m 0644 "$here/copyright" "$root/usr/share/doc/mtasts/copyright"

install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
echo /etc/mtasts/mtasts.toml >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$here/control" >"$root/DEBIAN/control"

# Same bytes for the same commit: every time is the commit's time.
find "$root" -exec touch --no-dereference --date="@$epoch" {} +
deb=$out/mtasts_${VERSION}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
