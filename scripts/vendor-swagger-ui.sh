#!/usr/bin/env bash
# Vendor Swagger UI (npm package swagger-ui-dist) for GET /api/docs.
#
# The appliance runs on a plant LAN with no internet access and serves /api/docs under a
# strict Content-Security-Policy, so the UI is shipped inside the Python package instead of
# being loaded from a CDN. Only the files the page needs are kept (no source maps, no
# standalone preset, no sample index.html):
#
#   swagger-ui-bundle.js               the UI (React + swagger-client in one file)
#   swagger-ui-bundle.js.LICENSE.txt   licence notices of the third-party code inside the bundle
#                                      (the bundle's first line points to it)
#   swagger-ui.css                     the styles
#   LICENSE, NOTICE                    Swagger UI's Apache-2.0 licence and notice
#
# VERSION.txt beside them records the exact version, the npm tarball's integrity and the
# sha256 of every vendored file. Our own init code lives in api/static/docs-init.js.
#
# Usage:
#   scripts/vendor-swagger-ui.sh                 re-vendor the pinned version (PINNED_VERSION
#                                                below); refuses if any file's sha256 differs
#                                                from VERSION.txt
#   scripts/vendor-swagger-ui.sh --check         offline: verify the files in the tree against
#                                                VERSION.txt (no network); exit 1 on mismatch
#   scripts/vendor-swagger-ui.sh --upgrade X.Y.Z fetch another 5.x version and rewrite
#                                                VERSION.txt (then update PINNED_VERSION here
#                                                and review the diff)
#
# Needs: npm and node (npm talks to the npm registry only), tar, openssl, sha256sum.
set -euo pipefail

PINNED_VERSION="5.35.0"
PACKAGE="swagger-ui-dist"
FILES=(swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo_root/reliatic_appliance/api/static/swagger-ui"
version_file="$dest/VERSION.txt"

die() {
    echo "vendor-swagger-ui: $*" >&2
    exit 1
}

# Print the "sha256  file" lines recorded in VERSION.txt.
recorded_hashes() {
    grep -E '^[0-9a-f]{64}  [A-Za-z0-9._-]+$' "$version_file" || true
}

recorded_field() {
    sed -n "s/^$1: //p" "$version_file" | head -n 1
}

check_tree() {
    [[ -f "$version_file" ]] || die "$version_file is missing"
    local hashes
    hashes="$(recorded_hashes)"
    [[ -n "$hashes" ]] || die "no sha256 lines in $version_file"
    local f
    for f in "${FILES[@]}"; do
        grep -qE "  ${f//./\\.}\$" <<<"$hashes" || die "$f has no sha256 in $version_file"
    done
    (cd "$dest" && sha256sum --check --strict --quiet <<<"$hashes") \
        || die "vendored files do not match $version_file"
    echo "vendor-swagger-ui: $PACKAGE $(recorded_field version): all ${#FILES[@]} files match VERSION.txt"
}

mode="revendor"
version="$PINNED_VERSION"
case "${1:-}" in
    "") ;;
    --check) mode="check" ;;
    --upgrade)
        mode="upgrade"
        version="${2:-}"
        [[ "$version" =~ ^5\.[0-9]+\.[0-9]+$ ]] || die "--upgrade needs an exact 5.x.y version"
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument: $1 (try --help)" ;;
esac

if [[ "$mode" == "check" ]]; then
    check_tree
    exit 0
fi

command -v npm >/dev/null || die "npm is needed to fetch $PACKAGE"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# npm pack checks the tarball against the registry's sha512 integrity before writing it.
(cd "$work" && npm pack --silent "$PACKAGE@$version" >/dev/null) || die "npm pack $PACKAGE@$version failed"
tarball="$work/$PACKAGE-$version.tgz"
[[ -f "$tarball" ]] || die "npm pack did not produce $tarball"
integrity="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
tar -xzf "$tarball" -C "$work"

got_version="$(node -p 'require(process.argv[1]).version' "$work/package/package.json")"
[[ "$got_version" == "$version" ]] || die "tarball says version '$got_version', expected '$version'"
license="$(node -p 'require(process.argv[1]).license' "$work/package/package.json")"

for f in "${FILES[@]}"; do
    [[ -f "$work/package/$f" ]] || die "$f is not in $PACKAGE $version"
done

new_hashes="$(cd "$work/package" && sha256sum "${FILES[@]}")"

if [[ "$mode" == "revendor" && -f "$version_file" ]]; then
    [[ "$(recorded_field version)" == "$version" ]] \
        || die "VERSION.txt records $(recorded_field version), PINNED_VERSION is $version: use --upgrade"
    [[ "$(recorded_field tarball-integrity)" == "$integrity" ]] \
        || die "npm tarball integrity differs from VERSION.txt (expected $(recorded_field tarball-integrity), got $integrity)"
    (cd "$work/package" && sha256sum --check --strict --quiet <<<"$(recorded_hashes)") \
        || die "downloaded files do not match the sha256 in VERSION.txt: refusing to vendor"
fi

mkdir -p "$dest"
# Remove anything not in the list (e.g. files of an older layout), then copy.
find "$dest" -mindepth 1 -maxdepth 1 ! -name VERSION.txt -exec rm -rf {} +
for f in "${FILES[@]}"; do
    install -m 0644 "$work/package/$f" "$dest/$f"
done

{
    echo "# Vendored Swagger UI for GET /api/docs, written by scripts/vendor-swagger-ui.sh."
    echo "# Do not edit by hand: re-run the script (--check verifies the files offline)."
    echo "package: $PACKAGE"
    echo "version: $version"
    echo "license: $license"
    echo "source: npm registry, $PACKAGE-$version.tgz"
    echo "tarball-integrity: $integrity"
    echo "# bytes  file"
    for f in "${FILES[@]}"; do
        printf '# %9d  %s\n' "$(stat -c %s "$dest/$f")" "$f"
    done
    echo "# sha256 (sha256sum format)"
    echo "$new_hashes"
} >"$version_file"
chmod 0644 "$version_file"

check_tree
