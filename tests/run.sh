#!/bin/sh
# Installs what is missing, builds dxs with AddressSanitizer and UndefinedBehaviorSanitizer,
# and runs the whole test suite. Exit status 0 only if every test passed. The last line of
# output is the counts: "N passed, N failed".
#
# When a step before the suite fails (installing packages, meson setup, the build), its
# output is shown, the line before the counts names the step, and the counts are
# "0 passed, 1 failed".
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

# failed STEP: the step's output is above; name it and end with the counts.
failed() {
  echo "tests/run.sh: $1 failed (output above)" >&2
  echo "0 passed, 1 failed"
  exit 1
}

deploy/install-deps.sh --tests || failed "installing packages (deploy/install-deps.sh --tests)"

build="build-tests"
if [ ! -f "$build/build.ninja" ]; then
  # Quiet when it works; its whole output when it does not.
  log=$(mktemp "${TMPDIR:-/tmp}/dxs-meson-setup.XXXXXX") || failed "mktemp"
  if [ -f "$build/meson-private/coredata.dat" ]; then
    set -- --reconfigure   # a setup that failed half-way
  else
    set --
  fi
  if ! meson setup "$@" "$build" -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
      -Db_lundef=false >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    failed "meson setup"
  fi
  rm -f "$log"
fi
ninja -C "$build" || failed "build (ninja -C $build)"

export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
meson test -C "$build" --print-errorlogs --num-processes 2
status=$?

# The counts, from meson's log. A run that failed without a failed test in the log (meson
# test itself failed) counts as one failure, so the counts never say all is well when the
# exit status does not.
if ! /usr/bin/python3 - "$build/meson-logs/testlog.json" "$status" <<'PY'
import json, sys
passed = failed = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            result = json.loads(line)["result"]
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result != "SKIP":
                failed += 1
except (OSError, ValueError) as e:
    print("tests/run.sh: cannot read the test log: %s" % e, file=sys.stderr)
if sys.argv[2] != "0" and failed == 0:
    print("tests/run.sh: meson test exited %s" % sys.argv[2], file=sys.stderr)
    failed = 1
print("%d passed, %d failed" % (passed, failed))
PY
then
  echo "0 passed, 1 failed"
  exit 1
fi
exit $status
