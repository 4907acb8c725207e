#!/bin/sh
# Installs what is missing, builds dxs with AddressSanitizer and UndefinedBehaviorSanitizer,
# and runs the whole test suite. Exit status 0 only if every test passed. The last line of
# output is the counts: "N passed, N failed".
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
deploy/install-deps.sh --tests || exit 1

build=build-tests
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
    >/dev/null || exit 1
fi
ninja -C "$build" || { echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
meson test -C "$build" --print-errorlogs --num-processes 2
status=$?

/usr/bin/python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = 0
with open(sys.argv[1]) as f:
    for line in f:
        result = json.loads(line)["result"]
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result != "SKIP":
            failed += 1
print("%d passed, %d failed" % (passed, failed))
PY
exit $status
