#!/usr/bin/env bash
# Builds the Debian packages of gslbd (gslbd, libgslb-route0, libgslb-route-dev) from this tree.
#   scripts/package.sh [--ref REF] [OUTDIR]
#     OUTDIR      where the .debs (and .buildinfo/.changes) land; default build-deb/
#     --ref REF   package the commit REF (git archive) instead of the work tree as it is now
# The tree is copied to a temporary directory with packaging/debian as ./debian, so the work
# tree is never touched; build dependencies are installed with apt-get when missing.
# Environment: DEB_BUILD_OPTIONS (default "parallel=$(nproc) nocheck"), KEEP_BUILD_DIR=1 to keep
# the temporary tree (its path is printed).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
ref=""
if [[ "${1:-}" == "--ref" ]]; then
  [[ $# -ge 2 ]] || { echo "usage: scripts/package.sh [--ref REF] [OUTDIR]" >&2; exit 2; }
  ref="$2"; shift 2
fi
outdir="${1:-build-deb}"
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"

sudo=()
[[ $(id -u) -ne 0 ]] && sudo=(sudo)

# What dpkg-buildpackage needs beyond the project's own build dependencies.
# lintian is for packaging/check-package.sh, which runs after this.
tools=(dpkg-dev debhelper fakeroot build-essential devscripts scdoc lintian)
missing=()
for p in "${tools[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "package.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/gslbd-deb.XXXXXX")"
cleanup() {
  if [[ "${KEEP_BUILD_DIR:-0}" == 1 ]]; then echo "package.sh: build tree kept in $work"
  else rm -rf "$work"; fi
}
trap cleanup EXIT

# The tree as git sees it (tracked and untracked-but-not-ignored files), else everything but
# build directories; the source lives one level down because dpkg-buildpackage writes the
# .debs into the parent directory.
src="$work/gslbd"
mkdir -p "$src"
if [[ -n "$ref" ]]; then
  git -C "$root" archive --format=tar "$ref" | tar -xf - -C "$src"
elif git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -xf - -C "$src"
else
  tar -C "$root" --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -a "$src/packaging/debian" "$src/debian"

# The package version must follow meson's project version.
meson_version="$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$src/meson.build" | head -n1)"
deb_version="$(cd "$src" && dpkg-parsechangelog -S Version)"
if [[ "${deb_version%%-*}" != "$meson_version" ]]; then
  echo "package.sh: warning: debian/changelog has $deb_version but meson.build has $meson_version" >&2
fi

# Build dependencies from debian/control that are missing.
if ! (cd "$src" && dpkg-checkbuilddeps) 2>/dev/null; then
  (cd "$src" && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
     apt-get build-dep -y -qq --no-install-recommends ./ >/dev/null) || {
    # Older apt or no deb-src: parse the missing ones out of dpkg-checkbuilddeps.
    deps="$(cd "$src" && dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p' |
            sed -E 's/\([^)]*\)//g; s/ *\| *[^ ]+//g')"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $deps >/dev/null
  }
fi

export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc) nocheck}"
echo "package.sh: dpkg-buildpackage -b -us -uc in $src (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
(cd "$src" && dpkg-buildpackage -b -us -uc)

shopt -s nullglob
artifacts=("$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$work"/*.changes)
[[ ${#artifacts[@]} -gt 0 ]] || { echo "package.sh: no packages were built" >&2; exit 1; }
cp "${artifacts[@]}" "$outdir"/
echo "package.sh: packages in $outdir:"
for f in "$work"/*.deb; do echo "  $(basename "$f")"; done
