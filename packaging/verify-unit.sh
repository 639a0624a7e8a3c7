#!/usr/bin/env bash
# Check systemd/reliatic.service with `systemd-analyze verify` (SPEC §8), and print its
# sandboxing score (`systemd-analyze security --offline`).
#
# verify refuses a unit whose ExecStart= binary is missing, and /opt/reliatic/venv/bin/reliatic
# exists only where the .deb is installed. So, unless --installed is given, the check runs in a
# private mount namespace (unshare) in which an empty tmpfs is mounted over /opt and a dummy
# executable is put at that path: nothing on the host is created or changed, and the rest of
# the host's systemd (targets, generators) is the one the unit is checked against.
#
# Usage: packaging/verify-unit.sh [--installed] [UNIT_FILE]
#   --installed   check against the real /opt/reliatic (on a machine with the .deb installed)
# Needs: systemd-analyze (Debian: apt-get install systemd), unshare (util-linux), root or
# unprivileged user namespaces.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
installed=0
if [[ "${1:-}" == "--installed" ]]; then
    installed=1
    shift
fi
unit="$(realpath "${1:-$repo_root/systemd/reliatic.service}")"
exe=/opt/reliatic/venv/bin/reliatic

die() {
    echo "verify-unit: $*" >&2
    exit 1
}

command -v systemd-analyze >/dev/null || die "systemd-analyze is missing (apt-get install systemd)"
[[ -f "$unit" ]] || die "no unit file at $unit"

if [[ "$installed" == 0 && "${RELIATIC_VERIFY_UNIT_INNER:-}" != 1 ]]; then
    command -v unshare >/dev/null || die "unshare is missing (apt-get install util-linux)"
    userns=()
    [[ "$(id -u)" == 0 ]] || userns=(--map-root-user)
    exec unshare --mount --propagation private "${userns[@]}" -- \
        env RELIATIC_VERIFY_UNIT_INNER=1 "$(realpath "${BASH_SOURCE[0]}")" "$unit"
fi

if [[ "${RELIATIC_VERIFY_UNIT_INNER:-}" == 1 ]]; then
    # Inside the private mount namespace: this tmpfs and the dummy vanish with it.
    mount -t tmpfs -o mode=0755 reliatic-verify /opt
    mkdir -p "$(dirname "$exe")"
    printf '#!/bin/sh\nexit 0\n' >"$exe"
    chmod 0755 "$exe"
fi

echo "verify-unit: systemd-analyze verify $unit"
# verify prints problems on stderr and may exit 0 on some of them: treat any output as failure.
out="$(systemd-analyze verify "$unit" 2>&1)" || {
    printf '%s\n' "$out" >&2
    die "systemd-analyze verify failed"
}
if [[ -n "$out" ]]; then
    printf '%s\n' "$out" >&2
    die "systemd-analyze verify reported problems"
fi
echo "verify-unit: OK ($(systemd-analyze --version | head -n 1))"
systemd-analyze security --offline=yes "$unit" | tail -n 1
