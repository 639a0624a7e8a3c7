#!/usr/bin/env bash
# Install the built .deb into a fresh Debian 12 (bookworm) chroot, as a plant server would get
# it, and prove it works: the package's user, directories and command; `reliatic init --tls`
# as root; `reliatic serve` as the reliatic user over HTTPS; `reliatic selftest` as root and as
# the reliatic user; the first backup and its check; then removal keeps the data. No systemd runs in a chroot, so the unit is
# checked separately (packaging/verify-unit.sh) and the server is started by hand here.
#
# Usage: packaging/test-install.sh [DEB]      (default: the newest dist/*.deb)
# Environment:
#   BASE    a debootstrapped bookworm to copy (default /var/tmp/reliatic-bookworm-base; made
#           on first use with debootstrap from MIRROR, a few minutes; later runs reuse it)
#   MIRROR  Debian mirror for that first debootstrap (default http://deb.debian.org/debian)
#   KEEP=1  keep the scratch chroot afterwards (its path is printed)
# The .deb itself is installed with dpkg alone, offline: its dependencies (python3.11, adduser)
# are in the base already, as on a server installed from bookworm media.
# Needs: root, debootstrap (first run only), unshare, chroot.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${BASE:-/var/tmp/reliatic-bookworm-base}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

die() {
    echo "test-install: $*" >&2
    exit 1
}
step() { echo "test-install: $*"; }

[[ "$(id -u)" == 0 ]] || die "run as root (chroot, mounts)"

if [[ "${TEST_INSTALL_INNER:-}" != 1 ]]; then
    deb="${1:-$(ls -t "$repo_root"/dist/*.deb 2>/dev/null | head -n 1)}"
    [[ -n "$deb" && -f "$deb" ]] || die "no .deb: build one with packaging/build-deb.sh"
    if [[ ! -f "$BASE/etc/debian_version" ]]; then
        command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
        step "debootstrap bookworm into $BASE (first run only)"
        debootstrap --variant=minbase \
            --include=python3.11,libpython3.11-stdlib,adduser,ca-certificates,curl \
            bookworm "$BASE.partial" "$MIRROR" >/dev/null
        mv "$BASE.partial" "$BASE"
    fi
    # A private mount namespace: /proc and /dev inside the chroot vanish with it.
    exec unshare --mount --propagation private -- \
        env TEST_INSTALL_INNER=1 "$(realpath "${BASH_SOURCE[0]}")" "$(realpath "$deb")"
fi

deb="$1"
work="$(mktemp -d /var/tmp/reliatic-install.XXXXXX)"
server_pid=""
cleanup() {
    [[ -z "$server_pid" ]] || kill "$server_pid" 2>/dev/null || true
    [[ -z "$server_pid" ]] || wait "$server_pid" 2>/dev/null || true
    umount "$work/proc" "$work/dev" 2>/dev/null || true
    if [[ "${KEEP:-}" == 1 ]]; then
        echo "test-install: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
in_root() { chroot "$work" "$@"; }
as_reliatic() { chroot --userspec=reliatic:reliatic "$work" env HOME=/var/lib/reliatic "$@"; }

step "copying $BASE to $work"
cp -a "$BASE/." "$work/"
mount -t proc proc "$work/proc"
mount --bind /dev "$work/dev"

step "dpkg -i $(basename "$deb") ($(du -h "$deb" | cut -f1))"
cp "$deb" "$work/tmp/"
in_root dpkg -i "/tmp/$(basename "$deb")"
in_root id reliatic >/dev/null || die "no reliatic user"
[[ "$(in_root stat -c '%a %U' /var/lib/reliatic)" == "750 reliatic" ]] \
    || die "/var/lib/reliatic is not 0750 reliatic"
in_root reliatic --version

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
sed -i "s/^#port = 8080$/port = $port/" "$work/etc/reliatic/reliatic.toml"
step "reliatic init --tls as root (port $port)"
in_root reliatic init --tls
[[ "$(in_root stat -c '%a %U' /etc/reliatic/tls/reliatic.key)" == "600 reliatic" ]] \
    || die "the TLS key is not 0600 reliatic"

step "reliatic serve as the reliatic user, as the unit runs it"
as_reliatic env RELIATIC_DATA_DIR=/var/lib/reliatic PYTHONUNBUFFERED=1 \
    /opt/reliatic/venv/bin/reliatic serve >"$work/tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    if in_root curl -sf --cacert /etc/reliatic/tls/reliatic.crt \
        "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/tmp/serve.log" >&2; die "serve exited"; }
    sleep 0.2
done
in_root curl -s --cacert /etc/reliatic/tls/reliatic.crt "https://127.0.0.1:$port/readyz"
echo

step "reliatic selftest as root"
in_root reliatic selftest
step "reliatic selftest as the reliatic user"
as_reliatic reliatic selftest --json >/dev/null
as_reliatic reliatic tenant list

step "the first backup, as docs/install.md takes it, while the server runs"
in_root install -d -o reliatic -g reliatic -m 0750 /var/backups/reliatic
as_reliatic reliatic backup --out /var/backups/reliatic/first
as_reliatic reliatic check
as_reliatic reliatic check --backup /var/backups/reliatic/first

step "dpkg -r keeps data and config"
kill "$server_pid"
wait "$server_pid" || true
server_pid=""
in_root dpkg -r reliatic-appliance >/dev/null
[[ -f "$work/var/lib/reliatic/control.db" && -f "$work/etc/reliatic/reliatic.toml" ]] \
    || die "removal lost data or config"
[[ ! -e "$work/opt/reliatic" ]] || die "/opt/reliatic is still there"
step "OK"
