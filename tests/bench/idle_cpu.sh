#!/bin/bash
# idle_cpu.sh - the CPU an idle dxs pair uses: starts a fresh pair (default configuration
# unless --config), waits until it answers, lets it settle, then prints for each process
# the CPU it used per second over the measured interval (every thread's time on a CPU,
# /proc/PID/task/*/schedstat field 1) and its context switches per second.
#
# usage: tests/bench/idle_cpu.sh [--seconds N] [--settle N] [--config FILE] [--xen]
#
#   --seconds N   measure over N seconds (default 10)
#   --settle N    wait N seconds after the pair answers before measuring (default 2)
#   --config FILE run dxs with this configuration file
#   --xen         the frontend serves rings too, on a simxen machine (docs/simxen.md)
#
# Environment: DXS_BUILD, DXS_STORE, DXS_FRONTEND, SIMXEN_LIB as for run.sh.
set -eu

usage() { sed -n '2,14p' "$0" >&2; exit 2; }

seconds=10
settle=2
config=""
xen=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --xen) xen=1; shift ;;
    *) usage ;;
  esac
done

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${DXS_BUILD:-$top/build}
store_bin=${DXS_STORE:-$build/store/dxs-store}
frontend_bin=${DXS_FRONTEND:-$build/frontend/dxs-frontend}
simxen_lib=${SIMXEN_LIB:-$build/tests/simxen/libsimxen.so}
for bin in "$store_bin" "$frontend_bin"; do
  [ -x "$bin" ] || { echo "idle_cpu.sh: $bin not found" >&2; exit 1; }
done

tmp=$(mktemp -d "${DXS_BENCH_TMP:-/tmp}/dxs-idle.XXXXXX")
pids=""
cleanup() {
  local pid
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$config" ]; then cp "$config" "$tmp/dxs.conf"; else : >"$tmp/dxs.conf"; fi
"$store_bin" --state-dir "$tmp/state" --listen "unix:$tmp/store.sock" --ops-listen "unix:$tmp/ops.sock" \
  --config "$tmp/dxs.conf" >"$tmp/store.log" 2>&1 &
store_pid=$!
pids="$store_pid"
frontend=("$frontend_bin" --store "unix:$tmp/store.sock" --socket "$tmp/xs.sock" --config "$tmp/dxs.conf")
if [ "$xen" = 1 ]; then
  mkdir -p "$tmp/machine"
  env LD_PRELOAD="$simxen_lib" SIMXEN_DIR="$tmp/machine" "${frontend[@]}" --xen >"$tmp/frontend.log" 2>&1 &
else
  "${frontend[@]}" >"$tmp/frontend.log" 2>&1 &
fi
frontend_pid=$!
pids="$frontend_pid $store_pid"

# Ready when a request on the client socket is answered (GET_DOMAIN_PATH of dom0).
answers() {
  /usr/bin/python3 - "$tmp/xs.sock" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
    s.sendall(struct.pack("<IIII", 10, 1, 0, 2) + b"0\0")
    sys.exit(0 if len(s.recv(16)) == 16 else 1)
except OSError:
    sys.exit(1)
EOF
}
for ((i = 0; i < 200; i++)); do
  answers && break
  kill -0 "$frontend_pid" 2>/dev/null || { cat "$tmp/frontend.log" >&2; exit 1; }
  sleep 0.05
done
sleep "$settle"

# cpu_ns PID, switches PID: summed over the process's threads.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {print s + 0}'
}
declare -A cpu0 sw0
for pid in "$store_pid" "$frontend_pid"; do cpu0[$pid]=$(cpu_ns "$pid"); sw0[$pid]=$(switches "$pid"); done
sleep "$seconds"
for name in dxs-store dxs-frontend; do
  if [ "$name" = dxs-store ]; then pid=$store_pid; else pid=$frontend_pid; fi
  cpu=$(cpu_ns "$pid")
  sw=$(switches "$pid")
  awk -v n="$name" -v c="$((cpu - cpu0[$pid]))" -v s="$((sw - sw0[$pid]))" -v t="$seconds" \
    'BEGIN {printf "%-13s %7.3f ms CPU/s %8.1f switches/s\n", n, c / 1e6 / t, s / t}'
done
