#!/bin/sh
# Installs what is missing, builds dxs, and runs dxs-store and dxs-frontend in the
# foreground with their state in ./.dxs/ and the Xenstore socket at ./.dxs/xenstored.sock.
# Ctrl-C stops both. A second run reuses the state.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# failed STEP [LOG]: shows the step's output (LOG, or what it printed) and names the step
# on the last line.
failed() {
  if [ -n "${2:-}" ]; then cat "$2" >&2; rm -f "$2"; fi
  echo "deploy/up.sh: $1 failed (output above)" >&2
  exit 1
}

deploy/install-deps.sh || failed "installing packages (deploy/install-deps.sh)"

# The build is quiet when it works and shows its whole output when it does not.
log=$(mktemp "${TMPDIR:-/tmp}/dxs-up.XXXXXX") || failed "mktemp"
if [ ! -f build/build.ninja ]; then
  if [ -f build/meson-private/coredata.dat ]; then
    set -- --reconfigure   # a setup that failed half-way
  else
    set --
  fi
  meson setup "$@" build -Dbuildtype=release -Dtests=false >"$log" 2>&1 ||
    failed "meson setup" "$log"
fi
ninja -C build >"$log" 2>&1 || failed "build (ninja -C build)" "$log"
rm -f "$log"

run="$top/.dxs"
mkdir -p "$run"
sock="$run/xenstored.sock"
if [ ${#sock} -ge 108 ]; then
  echo "up.sh: $sock is too long for a Unix socket path; clone dxs somewhere shorter" >&2
  exit 1
fi

build/store/dxs-store --state-dir "$run/state" --listen "unix:$run/store.sock" \
  --ops-listen "unix:$run/ops.sock" &
store=$!
build/frontend/dxs-frontend --store "unix:$run/store.sock" --socket "$sock" &
frontend=$!

alive() { kill -0 "$store" 2>/dev/null && kill -0 "$frontend" 2>/dev/null; }

# Stops both and waits for them; exits 0 only if both stopped cleanly. (The trap calls it.)
# shellcheck disable=SC2317
stop() {
  trap - INT TERM
  kill -TERM "$frontend" "$store" 2>/dev/null || true
  fstatus=0 sstatus=0
  wait "$frontend" || fstatus=$?
  wait "$store" || sstatus=$?
  if [ "$fstatus" -ne 0 ] || [ "$sstatus" -ne 0 ]; then
    echo "deploy/up.sh: dxs-frontend exited $fstatus, dxs-store exited $sstatus" >&2
    exit 1
  fi
  exit 0
}
trap stop INT TERM

# Ready when the socket exists (the frontend listens at once; requests wait for the store).
i=0
while [ ! -S "$sock" ] && alive && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if ! alive || [ ! -S "$sock" ]; then
  trap - INT TERM
  kill -TERM "$frontend" "$store" 2>/dev/null || true
  wait "$frontend" 2>/dev/null || true
  wait "$store" 2>/dev/null || true
  echo "deploy/up.sh: starting the daemons failed (their output above)" >&2
  exit 1
fi

cat <<MSG

dxs is running. Try:
  XENSTORED_PATH=$sock xenstore-ls /
  build/dxsctl/dxsctl --store unix:$run/ops.sock ls /
Ctrl-C stops both daemons.

MSG

# Stop both as soon as either ends by itself.
while alive; do
  sleep 1
done
trap - INT TERM
if kill -0 "$store" 2>/dev/null; then who=dxs-frontend; else who=dxs-store; fi
kill -TERM "$frontend" "$store" 2>/dev/null || true
wait "$frontend" 2>/dev/null || true
wait "$store" 2>/dev/null || true
echo "deploy/up.sh: $who exited by itself (its output above); stopped both" >&2
exit 1
