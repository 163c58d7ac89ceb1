#!/usr/bin/env bash
# Checks the .debs that scripts/package.sh built, without installing them:
#   packaging/check-package.sh [--require BIN]... DEBDIR
# - lists each package's contents (dpkg-deb -c) and checks that the expected files are there;
# - runs lintian and fails on errors (warnings are printed, not fatal);
# - extracts every package into a throwaway root (dpkg-deb -x) and runs each extracted
#   binary with --version, with LD_LIBRARY_PATH at the extracted library directory;
# - runs systemd-analyze verify on the extracted unit (when systemd-analyze exists).
# --require BIN: BIN (gslbd, gslbctl, gslb-drill) must be packaged; the others are checked
# when present and reported as "skip" when not. gslbd is always required.
# Prints one "ok|FAIL|skip: what" line per check and exits 1 if any failed.
set -uo pipefail

required=(gslbd)
while [[ "${1:-}" == "--require" ]]; do required+=("$2"); shift 2; done
debdir="${1:?usage: packaging/check-package.sh [--require BIN]... DEBDIR}"

failures=0
ok()   { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
skip() { echo "skip: $*"; }

shopt -s nullglob
debs=("$debdir"/*.deb)
[[ ${#debs[@]} -gt 0 ]] || { fail "no .deb in $debdir"; exit 1; }
deb_of() { local f; for f in "${debs[@]}"; do [[ "$(basename "$f")" == "$1"_* ]] && { echo "$f"; return 0; }; done; return 1; }

# 1. Each package exists and holds what it should.
declare -A expect=(
  [gslbd]="./usr/sbin/gslbd ./etc/gslbd/gslbd.toml ./etc/gslbd/zones/example.test.zone
           ./etc/gslbd/probes/gateway-http.toml ./lib/systemd/system/gslbd.service
           ./usr/lib/sysusers.d/gslbd.conf ./usr/lib/tmpfiles.d/gslbd.conf
           ./usr/share/man/man8/gslbd.8.gz ./usr/share/man/man5/gslbd.toml.5.gz"
  [libgslb-route0]="./usr/lib/*/libgslb-route.so.0 ./usr/lib/*/libgslb-route.so.0.*
           ./usr/lib/*/libgslb-route-follow.so.0 ./usr/lib/*/libgslb-route-follow.so.0.*"
  [libgslb-route-dev]="./usr/include/gslb/route.hpp ./usr/include/gslb/route.h
           ./usr/include/gslb/published.hpp ./usr/include/gslb/duration.hpp
           ./usr/lib/*/libgslb-route.so ./usr/lib/*/libgslb-route.a
           ./usr/lib/*/pkgconfig/gslb-route.pc
           ./usr/include/gslb/follow.hpp ./usr/include/gslb/follow.h
           ./usr/lib/*/libgslb-route-follow.so ./usr/lib/*/libgslb-route-follow.a
           ./usr/lib/*/pkgconfig/gslb-route-follow.pc"
)
for pkg in gslbd libgslb-route0 libgslb-route-dev; do
  deb="$(deb_of "$pkg")" || { fail "package $pkg was not built"; continue; }
  echo "--- dpkg-deb -c $(basename "$deb")"
  listing="$(dpkg-deb -c "$deb")" || { fail "dpkg-deb -c $(basename "$deb")"; continue; }
  echo "$listing" | awk '{print "    " $1, $6, $7, $8}'
  paths="$(echo "$listing" | awk '{print $6}')"
  read -r -d '' -a wants <<<"${expect[$pkg]}"
  for want in "${wants[@]}"; do
    # shellcheck disable=SC2053  # $want is a glob on purpose
    found=0; while IFS= read -r p; do [[ "$p" == $want ]] && { found=1; break; }; done <<<"$paths"
    if [[ $found == 1 ]]; then ok "$pkg contains $want"; else fail "$pkg lacks $want"; fi
  done
  conffiles="$(dpkg-deb -f "$deb" Package >/dev/null && dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null)"
  if [[ "$pkg" == gslbd ]]; then
    for cf in /etc/gslbd/gslbd.toml /etc/gslbd/zones/example.test.zone /etc/gslbd/probes/gateway-http.toml; do
      if grep -qx "$cf" <<<"$conffiles"; then ok "gslbd conffile $cf"; else fail "gslbd: $cf is not a conffile"; fi
    done
  fi
done

# 2. lintian: errors fail, warnings are shown.
if command -v lintian >/dev/null; then
  out="$(lintian --tag-display-limit 0 "${debs[@]}" 2>&1)"; rc=$?
  [[ -n "$out" ]] && echo "$out" | sed 's/^/    /'
  nerr="$(grep -c '^E: ' <<<"$out")"; nwarn="$(grep -c '^W: ' <<<"$out")"
  if [[ $nerr -eq 0 && $rc -eq 0 ]]; then ok "lintian: 0 errors ($nwarn warnings)"
  elif [[ $nerr -eq 0 ]]; then fail "lintian exited $rc"
  else fail "lintian: $nerr errors ($nwarn warnings)"; fi
else
  fail "lintian is not installed (apt-get install lintian)"
fi

# 3. Extract into a throwaway root and run the binaries.
root="$(mktemp -d "${TMPDIR:-/tmp}/gslbd-check.XXXXXX")"
trap 'rm -rf "$root"' EXIT
for deb in "${debs[@]}"; do
  dpkg-deb -x "$deb" "$root" || fail "dpkg-deb -x $(basename "$deb")"
done
libdirs="$(find "$root/usr/lib" -name 'libgslb-route.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)"
for bin in gslbd gslbctl gslb-drill; do
  path=""
  for d in usr/sbin usr/bin; do [[ -x "$root/$d/$bin" ]] && path="$root/$d/$bin"; done
  if [[ -z "$path" ]]; then
    if printf '%s\n' "${required[@]}" | grep -qx "$bin"; then fail "$bin is not packaged"
    else skip "$bin is not packaged (not built by meson yet)"; fi
    continue
  fi
  if out="$(LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout 10 "$path" --version 2>&1)"; then
    ok "${path#"$root"} --version: $out"
  else
    rc=$?
    # A tool without --version (gslb-drill so far) must at least run: --help, exit 0.
    if help="$(LD_LIBRARY_PATH="$libdirs" timeout 10 "$path" --help 2>&1)"; then
      ok "${path#"$root"} runs (no --version: it exited $rc; --help exited 0: ${help%%$'\n'*})"
    else
      fail "${path#"$root"} --version exited $rc: $out"
    fi
  fi
  missing="$(LD_LIBRARY_PATH="$libdirs" ldd "$path" 2>/dev/null | grep 'not found')"
  [[ -z "$missing" ]] && ok "$bin: every shared library resolves" || fail "$bin: $missing"
done
# The packaged configuration is valid as shipped (paths rewritten into the throwaway root).
if [[ -x "$root/usr/sbin/gslbd" && -f "$root/etc/gslbd/gslbd.toml" ]]; then
  sed "s#/etc/gslbd/#$root/etc/gslbd/#g" "$root/etc/gslbd/gslbd.toml" > "$root/etc/gslbd/check.toml"
  if out="$("$root/usr/sbin/gslbd" --check-config --config "$root/etc/gslbd/check.toml" 2>&1)"; then
    ok "gslbd --check-config on the packaged /etc/gslbd/gslbd.toml"
  else
    fail "gslbd --check-config on the packaged config: $out"
  fi
fi
# The -dev package works: pkg-config finds it, and a C program builds against the extracted
# headers and links with the extracted shared library, then runs.
pc="$(find "$root/usr/lib" -name gslb-route.pc | head -n1)"
if [[ -z "$pc" ]]; then
  fail "no gslb-route.pc"
elif ! flags="$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --define-variable=prefix="$root/usr" --cflags --libs gslb-route 2>&1)"; then
  fail "pkg-config gslb-route: $flags"
else
  ok "pkg-config gslb-route: ${flags//$root/<root>}"
  if command -v cc >/dev/null; then
    printf '%s\n' '#include <gslb/route.h>' '#include <stdio.h>' \
      'int main(void) { printf("%s\n", gslb_route_status_string(0)); return 0; }' > "$root/use.c"
    # shellcheck disable=SC2086  # $flags is a list of flags
    if out="$(cc -o "$root/use" "$root/use.c" $flags 2>&1 && LD_LIBRARY_PATH="$libdirs" "$root/use" 2>&1)"; then
      ok "a C program builds with libgslb-route-dev and runs with libgslb-route0: $out"
    else
      fail "building/running a C program against gslb-route: $out"
    fi
  else
    skip "C program against gslb-route (no cc)"
  fi
fi

# 4. The systemd unit, verified against the extracted root so ExecStart's binary exists.
unit="$root/lib/systemd/system/gslbd.service"
if ! command -v systemd-analyze >/dev/null; then
  skip "systemd-analyze verify (systemd-analyze is not installed)"
elif [[ ! -f "$unit" ]]; then
  fail "no gslbd.service to verify"
else
  # verify loads the unit as PID 1 would: everything it names must exist in the root given
  # with --root. The extracted packages provide /usr/sbin/gslbd and /usr/bin/gslbctl
  # (ExecReload); the host provides the rest: the units it is ordered against (copied, never
  # overwriting the package's), and `man` for Documentation=, pointed at the extracted man
  # pages by MANPATH.
  for d in /lib/systemd/system /usr/lib/systemd/system; do
    [[ -d "$d" && ! -L "$d" ]] && { mkdir -p "$root$d"; cp -an "$d/." "$root$d/"; }
  done
  man_opt=()
  if ! command -v man >/dev/null; then
    man_opt=(--man=no); skip "Documentation= man pages (man is not installed)"
  elif [[ ! -e "$root/usr/share/man/man8/gslbctl.8.gz" ]]; then
    # Documentation= names gslbctl(8), which is packaged only with gslbctl itself.
    man_opt=(--man=no); skip "Documentation= man pages (gslbctl(8) is not packaged yet)"
  fi
  out="$(MANPATH="$root/usr/share/man" systemd-analyze verify "${man_opt[@]}" --root="$root" "$unit" 2>&1)"; rc=$?
  if [[ $rc -eq 0 && -z "$out" ]]; then ok "systemd-analyze verify gslbd.service: clean"
  else fail "systemd-analyze verify gslbd.service (exit $rc): $out"; fi
fi

# 5. The sysusers.d and tmpfiles.d snippets do what the postinst relies on: in a scratch root
# with a copy of this machine's account files, they create the user and group gslbd and
# /var/lib/gslbd owned by them.
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null &&
   [[ -f "$root/usr/lib/sysusers.d/gslbd.conf" && -f "$root/usr/lib/tmpfiles.d/gslbd.conf" ]]; then
  sys="$root/sysroot"
  mkdir -p "$sys/etc" "$sys/usr/lib/sysusers.d" "$sys/usr/lib/tmpfiles.d"
  for f in passwd group shadow gshadow; do [[ -r /etc/$f ]] && cp /etc/$f "$sys/etc/"; done
  cp "$root/usr/lib/sysusers.d/gslbd.conf" "$sys/usr/lib/sysusers.d/"
  cp "$root/usr/lib/tmpfiles.d/gslbd.conf" "$sys/usr/lib/tmpfiles.d/"
  if systemd-sysusers --root="$sys" gslbd.conf >/dev/null 2>&1 &&
     uid="$(awk -F: '$1 == "gslbd" {print $3 ":" $4 ":" $7}' "$sys/etc/passwd")" && [[ -n "$uid" ]] &&
     grep -q '^gslbd:' "$sys/etc/group"; then
    ok "sysusers.d creates user and group gslbd (uid:gid:shell $uid)"
    if systemd-tmpfiles --root="$sys" --create gslbd.conf >/dev/null 2>&1 &&
       [[ "$(stat -c '%a %u' "$sys/var/lib/gslbd" 2>/dev/null)" == "750 ${uid%%:*}" ]]; then
      ok "tmpfiles.d creates /var/lib/gslbd 0750 owned by gslbd"
    else
      fail "tmpfiles.d did not create /var/lib/gslbd 0750 gslbd"
    fi
  else
    fail "sysusers.d did not create the user gslbd"
  fi
else
  skip "sysusers.d/tmpfiles.d (systemd-sysusers/systemd-tmpfiles missing, or no snippets)"
fi

if [[ $failures -eq 0 ]]; then echo "check-package: all checks passed"; exit 0; fi
echo "check-package: $failures check(s) failed"; exit 1
