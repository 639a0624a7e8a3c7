#!/usr/bin/env bash
# Build dist/reliatic-appliance_<version>_amd64.deb: a package that installs on a Debian 12
# (bookworm) plant server with NO internet access (SPEC §8). See packaging/README.md.
#
# What it does (build machine: Debian 12 amd64, with access to PyPI):
#   1. copies the source tree to packaging/build/src (so no build/ or *.egg-info lands in the
#      repo) and builds the project's own wheel there: pip wheel --no-deps .
#   2. downloads a wheelhouse of every runtime dependency, binary wheels only, for CPython 3.11
#      on manylinux x86_64 (glibc <= 2.36, bookworm's), and writes packaging/build/requirements.txt
#      with the exact version and sha256 of each wheel (--hash, for --require-hashes)
#   3. creates the venv with Debian's own /usr/bin/python3.11 and installs the wheelhouse into it
#      with pip --no-index --require-hashes (no source builds, nothing fetched), in a staging tree
#      at packaging/build/root/opt/reliatic/venv, then rewrites the staging path in scripts to
#      /opt/reliatic/venv and byte-compiles everything (checked-hash .pyc: /opt is read-only for
#      the service, and hash-checked .pyc stay valid whatever mtimes the install gives the files)
#   4. adds the systemd unit, the sysusers.d file, the default config (a conffile), the
#      maintainer scripts, and builds the .deb with dpkg-deb --root-owner-group
# So the .deb carries every Python dependency inside; on the server it needs only Debian's
# python3.11 (and adduser, or systemd-sysusers) from the installation media.
#
# Usage: packaging/build-deb.sh [--requirements FILE] [--wheelhouse DIR]
#        packaging/build-deb.sh --fill-wheelhouse DIR [--requirements FILE]
#   --requirements FILE  rebuild from an earlier requirements.txt (e.g. dist/*.requirements.txt)
#                        instead of resolving the newest versions allowed by pyproject.toml:
#                        same versions, same sha256, or the build fails.
#   --wheelhouse DIR     build OFFLINE: every wheel (the runtime dependencies, and setuptools
#                        and wheel to build the project's own) comes from DIR, nothing from an
#                        index (pip --no-index --find-links DIR). A plant builds on a machine
#                        that is itself offline.
#   --fill-wheelhouse DIR  on a machine WITH access to PyPI: download into DIR what
#                        --wheelhouse DIR needs, then stop (copy DIR over with the source).
# Environment:
#   BUILD_PYTHON   interpreter whose pip (>= 22.3) builds and downloads  (default: python3)
#   TARGET_PYTHON  Debian interpreter the venv is made with               (default: /usr/bin/python3.11)
#   DEB_REVISION   Debian revision appended as <version>-<rev>            (default: none)
#   DEB_MAINTAINER Maintainer field
# Needs: dpkg-deb, objdump (binutils), python3.11 (Debian's), a python3 with pip, tar,
# sha256sum, md5sum.
set -euo pipefail
umask 022
# The optional extras the package carries (pyproject.toml): the PostgreSQL driver and uvloop.
EXTRAS="postgresql,uvloop"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$repo_root/packaging/build"
dist="$repo_root/dist"
BUILD_PYTHON="${BUILD_PYTHON:-python3}"
TARGET_PYTHON="${TARGET_PYTHON:-/usr/bin/python3.11}"
DEB_MAINTAINER="${DEB_MAINTAINER:-Reliatic Appliance packaging <packaging@reliatic.invalid>}"
PACKAGE=reliatic-appliance
PREFIX=/opt/reliatic
VENV="$PREFIX/venv"
# Wheels for bookworm: CPython 3.11 (cp311 or abi3), x86_64, any manylinux tag up to glibc 2.36.
# Every tag is named: pip does not widen manylinux_2_36 to the older manylinux_2_X tags.
PIP_TARGET=(--only-binary=:all: --implementation cp --python-version 3.11 --abi cp311)
for glibc_minor in $(seq 36 -1 17); do
    PIP_TARGET+=(--platform "manylinux_2_${glibc_minor}_x86_64")
done
PIP_TARGET+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64
    --platform manylinux1_x86_64)

die() {
    echo "build-deb: $*" >&2
    exit 1
}
step() { echo "build-deb: $*"; }

lock=""
wheelhouse=""
fill=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --requirements)
            [[ -n "${2:-}" && -f "$2" ]] || die "--requirements needs an existing file"
            lock="$(realpath "$2")"
            shift 2
            ;;
        --wheelhouse)
            [[ -n "${2:-}" && -d "$2" ]] || die "--wheelhouse needs an existing directory"
            wheelhouse="$(realpath "$2")"
            shift 2
            ;;
        --fill-wheelhouse)
            [[ -n "${2:-}" ]] || die "--fill-wheelhouse needs a directory"
            mkdir -p "$2"
            fill="$(realpath "$2")"
            shift 2
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
done
[[ -z "$wheelhouse" || -z "$fill" ]] || die "--wheelhouse and --fill-wheelhouse exclude each other"
# Where wheels come from: an index (the default), or only the local wheelhouse (offline).
source_opts=()
if [[ -n "$wheelhouse" ]]; then
    source_opts=(--no-index --find-links "$wheelhouse")
fi

# ---- preflight ---------------------------------------------------------------------------
[[ "$(dpkg --print-architecture 2>/dev/null)" == amd64 ]] || die "build on amd64 Debian"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"
command -v objdump >/dev/null || die "objdump is missing (apt-get install binutils)"
[[ -x "$TARGET_PYTHON" ]] || die "$TARGET_PYTHON is missing (apt-get install python3.11)"
"$TARGET_PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' \
    || die "$TARGET_PYTHON is not Python 3.11"
[[ "$(realpath "$TARGET_PYTHON")" == /usr/bin/* ]] \
    || die "$TARGET_PYTHON must be Debian's interpreter in /usr/bin (the venv links to it)"
"$BUILD_PYTHON" -m pip --version >/dev/null 2>&1 || die "$BUILD_PYTHON has no pip"
"$BUILD_PYTHON" - <<'EOF' || die "$BUILD_PYTHON's pip is too old: need >= 22.3 (for --python)"
import pip
assert tuple(int(p) for p in pip.__version__.split(".")[:2]) >= (22, 3)
EOF
pip=("$BUILD_PYTHON" -m pip --disable-pip-version-check --no-input)

# Project version from pyproject.toml, turned into a Debian version (1.2.0rc1 -> 1.2.0~rc1).
version="$("$TARGET_PYTHON" - "$repo_root/pyproject.toml" <<'EOF'
import re, sys, tomllib
with open(sys.argv[1], "rb") as fh:
    v = tomllib.load(fh)["project"]["version"]
print(re.sub(r"^(\d+(?:\.\d+)*)\.?((?:a|b|rc|dev)\d*)$", r"\1~\2", v))
EOF
)"
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "cannot make a Debian version of '$version'"
debversion="$version${DEB_REVISION:+-$DEB_REVISION}"
deb="$dist/${PACKAGE}_${debversion}_amd64.deb"
step "building $PACKAGE $debversion"

if [[ -n "$lock" ]]; then
    # Read it before packaging/build is emptied (it may be packaging/build/requirements.txt).
    lock_text="$(grep -v -e '^#' -e '^reliatic-appliance==' -e '^[[:space:]]*$' "$lock")"
fi
rm -rf "$build"
mkdir -p "$build/src" "$build/wheelhouse" "$dist"
stage="$build/root"
venv="$stage$VENV"

# ---- 1. the project's own wheel, from a copy of the tree -----------------------------------
step "copying the source tree"
tar -C "$repo_root" -cf - \
    --exclude=./.git --exclude=./.venv --exclude=./packaging/build --exclude=./dist \
    --exclude=./build --exclude='*.egg-info' --exclude=__pycache__ --exclude='*.pyc' \
    --exclude=./.mypy_cache --exclude=./.pytest_cache --exclude=./.ruff_cache --exclude=./var \
    --exclude=node_modules . | tar -C "$build/src" -xf -
if [[ ! -f "$build/src/README.md" ]]; then
    echo "build-deb: WARNING: README.md is missing; the wheel gets a placeholder description" >&2
    echo "Reliatic Appliance" >"$build/src/README.md"
fi
step "pip wheel --no-deps ."
# With --wheelhouse, pip's isolated build environment takes setuptools and wheel from it too.
(cd "$build/src" && "${pip[@]}" wheel --quiet --no-deps "${source_opts[@]}" \
    --wheel-dir "$build/wheelhouse" .) \
    || die "building the project's wheel failed${wheelhouse:+ (are setuptools and wheel in $wheelhouse?)}"
shopt -s nullglob
own_wheels=("$build"/wheelhouse/reliatic_appliance-*.whl)
shopt -u nullglob
[[ ${#own_wheels[@]} -eq 1 ]] || die "expected one reliatic_appliance wheel, got ${#own_wheels[@]}"
own_wheel="${own_wheels[0]}"
"$TARGET_PYTHON" - "$own_wheel" <<'EOF' || die "the wheel lacks the vendored Swagger UI or migrations"
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["reliatic_appliance/api/static/swagger-ui/swagger-ui-bundle.js",
        "reliatic_appliance/api/static/docs-init.js",
        "reliatic_appliance/api/templates/docs.html"]
missing = [n for n in need if n not in names]
missing += [] if any(n.startswith("reliatic_appliance/storage/migrations/") for n in names) else ["migrations"]
if missing:
    sys.exit("missing from wheel: " + ", ".join(missing))
EOF

# ---- 2. the wheelhouse of runtime dependencies, hash-pinned --------------------------------
requirements="$build/requirements.txt"
from="${wheelhouse:+ from $wheelhouse (offline)}"
if [[ -n "$lock" ]]; then
    step "downloading the wheels pinned in $lock$from"
    printf '%s\n' "$lock_text" >"$build/deps.lock"
    "${pip[@]}" download --quiet "${PIP_TARGET[@]}" "${source_opts[@]}" --no-deps \
        --require-hashes --dest "$build/wheelhouse" -r "$build/deps.lock" \
        || die "pip download failed"
else
    step "downloading the runtime dependencies (binary wheels, cp311 manylinux x86_64)$from"
    # With the optional extras: a plant without internet access moves to PostgreSQL
    # (SPEC §11) or turns uvloop on by a setting, not by fetching anything.
    "${pip[@]}" download --quiet "${PIP_TARGET[@]}" "${source_opts[@]}" \
        --dest "$build/wheelhouse" "$own_wheel[$EXTRAS]" \
        || die "pip download failed (a dependency without a cp311 manylinux wheel${wheelhouse:+, or missing from $wheelhouse})"
fi
if [[ -n "$fill" ]]; then
    # What an offline build needs: these runtime wheels, and the build backend of our own
    # (pyproject.toml's [build-system] requires), as wheels for any platform.
    find "$build/wheelhouse" -name '*.whl' ! -name 'reliatic_appliance-*' -exec cp {} "$fill/" \;
    "${pip[@]}" download --quiet --only-binary=:all: --dest "$fill" "setuptools>=68" wheel \
        || die "downloading setuptools and wheel failed"
    step "filled $fill with $(find "$fill" -name '*.whl' | wc -l) wheels; build offline with:"
    step "  packaging/build-deb.sh --wheelhouse $fill"
    exit 0
fi
"$TARGET_PYTHON" - "$build/wheelhouse" "$requirements" <<'EOF'
import hashlib, pathlib, re, sys
house, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
lines, seen = [], {}
for whl in sorted(house.glob("*.whl")):
    name, version = whl.name.split("-")[:2]
    name = re.sub(r"[-_.]+", "-", name).lower()
    if name in seen:
        sys.exit(f"two wheels for {name}: {seen[name]} and {whl.name}")
    seen[name] = whl.name
    digest = hashlib.sha256(whl.read_bytes()).hexdigest()
    lines.append(f"{name}=={version} --hash=sha256:{digest}")
out.write_text("# Runtime wheels of the .deb, written by packaging/build-deb.sh\n"
               + "\n".join(lines) + "\n")
print(f"build-deb: {len(lines)} wheels pinned in {out.name}")
EOF

# ---- 3. the venv, offline from the wheelhouse ----------------------------------------------
step "creating $VENV with $TARGET_PYTHON (staged in $stage)"
"$TARGET_PYTHON" -m venv --without-pip "$venv"
"${pip[@]}" --python "$venv/bin/python" install --quiet --no-index --require-hashes \
    --no-compile --find-links "$build/wheelhouse" -r "$requirements" \
    || die "installing the wheelhouse into the venv failed"
"${pip[@]}" --python "$venv/bin/python" check || die "pip check found broken requirements"

# The venv was made at the staging path; scripts must name the installed one.
step "relocating the venv to $VENV"
"$TARGET_PYTHON" - "$venv" "$VENV" <<'EOF' || die "relocating the venv failed"
import pathlib, sys
staged, final = sys.argv[1], sys.argv[2]
root = pathlib.Path(staged)
for path in [*(root / "bin").iterdir(), root / "pyvenv.cfg"]:
    if path.is_symlink() or not path.is_file():
        continue
    data = path.read_bytes()
    if staged.encode() in data:
        path.write_bytes(data.replace(staged.encode(), final.encode()))
EOF
# Byte-compile with the target interpreter; file names in the .pyc without the staging prefix.
"$venv/bin/python" -m compileall -q -j 0 --invalidation-mode checked-hash \
    -s "$stage" -p / "$venv/lib" >/dev/null || die "byte-compiling failed"
if leftovers="$(grep -rl -F "$stage" "$venv")"; then
    printf '%s\n' "$leftovers" | head -n 20 >&2
    die "the staging path is still named in the files above"
fi

# Smoke test of the staged venv: every dependency imports, the console script is there.
"$venv/bin/python" - <<'EOF' || die "the staged venv does not import"
import importlib, importlib.metadata as md
for mod in ["reliatic_appliance", "aiohttp", "apsw", "cryptography.hazmat.bindings._rust",
            "pydantic", "pydantic_core", "sqlite3", "ssl"]:
    importlib.import_module(mod)
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # needs a wheel, not a source build
Argon2id(salt=b"0" * 16, length=32, iterations=1, lanes=1, memory_cost=64).derive(b"x")
eps = [ep for ep in md.distribution("reliatic-appliance").entry_points if ep.name == "reliatic"]
assert eps and eps[0].group == "console_scripts", eps
print("build-deb: venv OK:", md.version("reliatic-appliance"))
EOF
[[ -x "$venv/bin/reliatic" ]] || die "the venv has no bin/reliatic"

# ---- 4. the rest of the package tree -------------------------------------------------------
step "laying out the package tree"
install -D -m 0644 "$repo_root/systemd/reliatic.service" "$stage/lib/systemd/system/reliatic.service"
install -D -m 0644 "$repo_root/systemd/reliatic.sysusers" "$stage/usr/lib/sysusers.d/reliatic.conf"
install -D -m 0644 "$repo_root/systemd/reliatic.toml" "$stage/etc/reliatic/reliatic.toml"
mkdir -p "$stage/usr/bin"
ln -s "$VENV/bin/reliatic" "$stage/usr/bin/reliatic"
doc="$stage/usr/share/doc/$PACKAGE"
install -D -m 0644 "$requirements" "$doc/requirements.txt"
install -m 0644 "$repo_root/packaging/README.md" "$doc/README.packaging.md"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $PACKAGE

Files: *
Copyright: Reliatic Appliance authors
License: Proprietary

Files: $VENV/lib/python3.11/site-packages/*
Copyright: see each package's *.dist-info/ directory
License: see each package's *.dist-info/ (METADATA, LICENSE*); the exact wheels and their
 sha256 are listed in /usr/share/doc/$PACKAGE/requirements.txt

Files: $VENV/lib/python3.11/site-packages/reliatic_appliance/api/static/swagger-ui/*
Copyright: SmartBear Software Inc.
License: Apache-2.0
 See LICENSE, NOTICE and swagger-ui-bundle.js.LICENSE.txt in that directory.
EOF
gzip -9n >"$doc/changelog.gz" <<EOF
$PACKAGE ($debversion) stable; urgency=medium

  * Release $version.

 -- $DEB_MAINTAINER  $(date -R)
EOF

mkdir -p "$stage/DEBIAN"
echo "/etc/reliatic/reliatic.toml" >"$stage/DEBIAN/conffiles"
install -m 0755 "$repo_root/packaging/maintscripts/postinst" "$stage/DEBIAN/postinst"
install -m 0755 "$repo_root/packaging/maintscripts/prerm" "$stage/DEBIAN/prerm"
install -m 0755 "$repo_root/packaging/maintscripts/postrm" "$stage/DEBIAN/postrm"

# Normalise modes (pip keeps some from the wheels): no group/other write, no setuid.
find "$stage" -path "$stage/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
find "$stage" -path "$stage/DEBIAN" -prune -o -type f -exec chmod u+rw,go-w,go+r,-s {} +

# Shared libraries outside the venv that the native modules need: must be in Depends.
# Shared libraries the native modules need from the system become Depends: an unknown one
# fails the build, and libc6's minimum version is the newest GLIBC_x.y symbol they use.
step "checking the system libraries the wheels link to"
declare -A lib_package=(
    [ld-linux-x86-64.so.2]=libc6 [libc.so.6]=libc6 [libdl.so.2]=libc6 [libm.so.6]=libc6
    [libpthread.so.0]=libc6 [librt.so.1]=libc6 [libutil.so.1]=libc6 [libresolv.so.2]=libc6
    [libgcc_s.so.1]=libgcc-s1 [libstdc++.so.6]=libstdc++6 [libz.so.1]=zlib1g
)
mapfile -d '' shared_objects < <(find "$venv" -type f -name '*.so*' -print0)
declare -A lib_depends=()
while read -r lib; do
    # Libraries bundled in the wheels (auditwheel's *.libs directories) need nothing.
    if [[ -n "$(find "$venv" -name "$lib" -print -quit)" ]]; then continue; fi
    [[ -n "${lib_package[$lib]:-}" ]] \
        || die "a wheel needs the system library $lib: map it to its Debian package here"
    lib_depends[${lib_package[$lib]}]=1
done < <(objdump -p "${shared_objects[@]}" | awk '$1 == "NEEDED" {print $2}' | sort -u)
glibc="$(objdump -T "${shared_objects[@]}" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' \
    | sort -uV | tail -n 1)"
system_depends="libc6 (>= ${glibc:-2.17})"
for dep in $(printf '%s\n' "${!lib_depends[@]}" | sort); do
    [[ "$dep" == libc6 ]] || system_depends+=", $dep"
done
step "  Depends from the native modules: $system_depends"

installed_size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat >"$stage/DEBIAN/control" <<EOF
Package: $PACKAGE
Version: $debversion
Architecture: amd64
Maintainer: $DEB_MAINTAINER
Installed-Size: $installed_size
Depends: python3.11 (>= 3.11.2), libpython3.11-stdlib (>= 3.11.2), $system_depends, adduser
Recommends: ca-certificates, systemd
Section: net
Priority: optional
Homepage: https://reliatic.invalid/
Description: Reliatic Appliance: reliability and integrity data REST server
 An on-premises, single-node REST API server for reliability and
 mechanical-integrity data of process plants (assets, inspections, FMEA,
 corrective actions, RBI risk assessments, MOC records), with signed
 webhooks to local CMMS and ERP systems.
 .
 Runs as the systemd service reliatic.service under the reliatic user.
 Every Python dependency is inside the package (a venv in /opt/reliatic),
 so it installs without internet access. Data in /var/lib/reliatic and
 configuration in /etc/reliatic are kept on upgrade and removal.
EOF
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
    | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

step "dpkg-deb --build"
rm -f "$deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
cp "$requirements" "${deb%.deb}.requirements.txt"
(cd "$dist" && sha256sum "$(basename "$deb")" >"$(basename "$deb").sha256")
step "built $deb ($(du -h "$deb" | cut -f1), installed size ${installed_size} KiB)"
step "sha256 $(cut -d' ' -f1 "$deb.sha256")"
