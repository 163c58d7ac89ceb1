#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs the suite (unit, integration,
# end-to-end, differential against NSD, health, operations, routing library), runs it again
# under ASan+UBSan, fuzzes the query handler for FUZZ_SECONDS (default 120; 0 skips), then
# builds and checks the Debian package (PACKAGE=0 skips). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh --test || { echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0
count() {  # adds the results of a meson test run from its JSON log
  local log=$1/meson-logs/testlog.json
  [[ -f $log ]] || { failed=$((failed + 1)); return; }
  read -r p f s < <(python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

suite() {  # suite NAME BUILDDIR [meson setup options...]
  local name=$1 dir=$2
  shift 2
  echo "== $name"
  if [[ ! -f $dir/build.ninja ]]; then
    meson setup "$dir" "$@" >/dev/null || { failed=$((failed + 1)); return; }
  fi
  if ! ninja -C "$dir" >/dev/null; then
    ninja -C "$dir" 2>&1 | grep -E "error|FAILED" | head -20
    failed=$((failed + 1))
    return
  fi
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --print-errorlogs --num-processes 2 | grep -vE '^$' | tail -40
  count "$dir"
}

suite "tests" build-test --buildtype=debugoptimized
suite "tests under ASan+UBSan" build-asan --buildtype=debug -Db_sanitize=address,undefined \
  -Db_lundef=false

fuzz_seconds=${FUZZ_SECONDS:-120}
if [[ $fuzz_seconds -gt 0 ]]; then
  echo "== fuzzing the query handler for ${fuzz_seconds}s"
  if [[ ! -f build-fuzz/build.ninja ]]; then
    CC=clang CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dtests=false \
      -Db_sanitize=address,undefined -Db_lundef=false -Dcpp_args=-fsanitize=fuzzer-no-link \
      >/dev/null
  fi
  if ninja -C build-fuzz tests/fuzz/fuzz_query >/dev/null; then
    work=$(mktemp -d)
    if build-fuzz/tests/fuzz/fuzz_query -max_total_time="$fuzz_seconds" -max_len=1024 \
        -artifact_prefix=tests/fuzz/regressions/ "$work" tests/fuzz/corpus 2>&1 | tail -3; then
      passed=$((passed + 1))
    else
      echo "fuzzing found a crash: the input is in tests/fuzz/regressions/; add it to git"
      failed=$((failed + 1))
    fi
    rm -rf "$work"
  else
    failed=$((failed + 1))
  fi
fi

# The Debian package: build it from this tree and check its contents (PACKAGE=0 skips).
if [[ ${PACKAGE:-1} != 0 ]]; then
  echo "== Debian package"
  if scripts/package.sh build-deb >/tmp/gslbd-package.log 2>&1 &&
     packaging/check-package.sh --require gslbctl --require gslb-drill build-deb; then
    passed=$((passed + 1))
  else
    tail -30 /tmp/gslbd-package.log
    failed=$((failed + 1))
  fi
fi

[[ $skipped -gt 0 ]] && echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
