#!/bin/sh
# Installs what is missing, builds dxs, and runs dxs-store and dxs-frontend in the
# foreground with their state in ./.dxs/ and the Xenstore socket at ./.dxs/xenstored.sock.
# Ctrl-C stops both. A second run reuses the state.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
deploy/install-deps.sh

if [ ! -f build/build.ninja ]; then
  meson setup build -Dbuildtype=release -Dtests=false >/dev/null
fi
ninja -C build >/dev/null

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

stop() {
  trap - INT TERM
  kill -TERM "$frontend" "$store" 2>/dev/null || true
  wait "$frontend" 2>/dev/null || true
  wait "$store" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM

# Ready when the socket exists (the frontend listens at once; requests wait for the store).
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

cat <<MSG

dxs is running. Try:
  XENSTORED_PATH=$sock xenstore-ls /
  build/dxsctl/dxsctl --store unix:$run/ops.sock ls /
Ctrl-C stops both daemons.

MSG

# Stop both as soon as either ends.
while kill -0 "$store" 2>/dev/null && kill -0 "$frontend" 2>/dev/null; do
  sleep 1
done
stop
