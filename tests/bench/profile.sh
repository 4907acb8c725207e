#!/bin/bash
# profile.sh - where dxs's time goes under one benchmark workload: starts a fresh dxs pair
# (default configuration), runs the workload with `perf record` attached to dxs-store and
# dxs-frontend, and prints for each process its CPU time and context switches per request
# and the top of `perf report`. docs/performance.md was written from its output.
#
# usage: tests/bench/profile.sh [--ops N] [--call-graph] [--out DIR] [--config FILE]
#                               [--daemon dxs|c|ocaml] WORKLOAD
#
#   WORKLOAD      serial-write | serial-read | par4-write | par4-read | par16-write |
#                 par16-read | dir | txn | watch
#   --ops N       requests (default 20000; txn: transactions per client, default 500)
#   --call-graph  record call graphs (dwarf) and print the inclusive ("children") view too
#   --out DIR     keep perf.data and the reports in DIR (default: a temporary directory,
#                 removed at exit)
#   --config FILE run dxs with this configuration file instead of the defaults (for
#                 experiments such as store.spin-us = 0; the benchmark uses the defaults)
#   --fd-store    run dxs-frontend as systemd runs it: NOTIFY_SOCKET set (a receiver here
#                 keeps what it stores), so each client's replies pass through its outbox
#                 pipe (docs/design.md, "The outbox"), as in production
#   --daemon D    profile C xenstored (c) or oxenstored (ocaml) instead, for comparison
#                 (started with tests/simxen/start-peer.sh on a simxen machine of its
#                 own, or DXS_PEERS/start-peer.sh, as run.sh does)
#
# Environment: DXS_BUILD, DXS_STORE, DXS_FRONTEND, XSBENCH, SIMXEN_LIB, DXS_PEERS as for
# run.sh; PERF
# (default perf).
set -eu

usage() { sed -n '2,22p' "$0" >&2; exit 2; }

ops=""
call_graph=0
out=""
config=""
fd_store=0
daemon=dxs
workload=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) [ $# -ge 2 ] || usage; ops=$2; shift ;;
    --call-graph) call_graph=1 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift ;;
    --config) [ $# -ge 2 ] || usage; config=$2; shift ;;
    --fd-store) fd_store=1 ;;
    --daemon) [ $# -ge 2 ] || usage; daemon=$2; shift ;;
    -h|--help) usage ;;
    -*) echo "profile.sh: unknown option $1" >&2; usage ;;
    *) workload=$1 ;;
  esac
  shift
done
[ -n "$workload" ] || usage

case "$workload" in
  serial-write) args=(serial --op write --ops "${ops:-20000}") ;;
  serial-read) args=(serial --op read --ops "${ops:-20000}") ;;
  par4-write) args=(parallel --op write --clients 4 --ops "${ops:-20000}") ;;
  par4-read) args=(parallel --op read --clients 4 --ops "${ops:-20000}") ;;
  par16-write) args=(parallel --op write --clients 16 --ops "${ops:-20000}") ;;
  par16-read) args=(parallel --op read --clients 16 --ops "${ops:-20000}") ;;
  dir) args=(directory --children 500 --ops "${ops:-10000}") ;;
  txn) args=(txn --clients 4 --txns "${ops:-500}" --keys 5) ;;
  watch) args=(watch --watchers 100 --writes "${ops:-1000}") ;;
  *) echo "profile.sh: unknown workload $workload" >&2; usage ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${DXS_BUILD:-$top/build}
store_bin=${DXS_STORE:-$build/store/dxs-store}
frontend_bin=${DXS_FRONTEND:-$build/frontend/dxs-frontend}
xsbench=${XSBENCH:-$build/tests/bench/xsbench}
perf=${PERF:-perf}
simxen_lib=${SIMXEN_LIB:-$build/tests/simxen/libsimxen.so}
if [ -n "${DXS_PEERS:-}" ]; then start_peer=$DXS_PEERS/start-peer.sh; else start_peer=$top/tests/simxen/start-peer.sh; fi
case "$daemon" in dxs|c|ocaml) ;; *) echo "profile.sh: --daemon dxs, c or ocaml" >&2; exit 2 ;; esac
for bin in "$store_bin" "$frontend_bin" "$xsbench"; do
  [ -x "$bin" ] || { echo "profile.sh: $bin not found (meson compile -C build bench)" >&2; exit 1; }
done
command -v "$perf" >/dev/null || { echo "profile.sh: $perf not found (linux-perf)" >&2; exit 1; }

tmp=$(mktemp -d "${DXS_BENCH_TMP:-/tmp}/dxs-profile.XXXXXX")
if [ -z "$out" ]; then out=$tmp/out; fi
mkdir -p "$out"
pids=""
perf_pid=""

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  if [ -n "$perf_pid" ]; then stop_pid "$perf_pid"; fi
  for pid in $pids; do stop_pid "$pid"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case "$daemon" in
  dxs)
    if [ -n "$config" ]; then cp "$config" "$tmp/dxs.conf"; else : >"$tmp/dxs.conf"; fi
    "$store_bin" --state-dir "$tmp/state" --listen "unix:$tmp/store.sock" --ops-listen "unix:$tmp/ops.sock" \
      --config "$tmp/dxs.conf" >"$tmp/store.log" 2>&1 &
    store_pid=$!
    notify=()
    if [ "$fd_store" = 1 ]; then
      # systemd's side of sd_notify: take every datagram, keep the descriptors it carries.
      /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
kept = []
while True:
    kept.append(s.recvmsg(4096, socket.CMSG_SPACE(253 * 4)))
' "$tmp/notify.sock" &
      pids_notify=$!
      while [ ! -S "$tmp/notify.sock" ]; do sleep 0.01; done
      notify=(env NOTIFY_SOCKET="$tmp/notify.sock")
    fi
    "${notify[@]}" "$frontend_bin" --store "unix:$tmp/store.sock" --socket "$tmp/xs.sock" \
      --config "$tmp/dxs.conf" >"$tmp/frontend.log" 2>&1 &
    frontend_pid=$!
    pids="$frontend_pid $store_pid ${pids_notify:-}"
    names=(dxs-store dxs-frontend)
    procs=("$store_pid" "$frontend_pid")
    ;;
  c|ocaml)
    SIMXEN_DIR=$tmp/simxen SIMXEN_LIB=$simxen_lib \
      "$start_peer" "$daemon" "$tmp/xs.sock" "$tmp/peer" >"$tmp/peer.log" 2>&1 &
    pids=$!
    if [ "$daemon" = c ]; then names=(xenstored); else names=(oxenstored); fi
    procs=("$pids")
    ;;
esac
ping_args=()
for pid in "${procs[@]}"; do ping_args+=(--pid "$pid"); done
"$xsbench" ping --socket "$tmp/xs.sock" "${ping_args[@]}"

# CPU nanoseconds (schedstat) and context switches summed over a process's threads.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'; }
ctx_switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { printf "%d", s }'
}
threads() { ls /proc/"$1"/task | wc -l; }

record_args=(-F 1999)
if [ "$call_graph" = 1 ]; then record_args+=(--call-graph dwarf,32768); fi
"$perf" record "${record_args[@]}" -p "$(IFS=,; echo "${procs[*]}")" -o "$out/perf.data" \
  >"$out/perf-record.log" 2>&1 &
perf_pid=$!
# perf is attached once it has written its header; wait for that, not for a fixed time.
for ((i = 0; i < 200; i++)); do
  if [ -s "$out/perf.data" ]; then break; fi
  sleep 0.05
done

cpu0=(); ctx0=()
for pid in "${procs[@]}"; do cpu0+=("$(cpu_ns "$pid")"); ctx0+=("$(ctx_switches "$pid")"); done
result=$("$xsbench" "${args[@]}" --socket "$tmp/xs.sock")
cpu1=(); ctx1=()
for pid in "${procs[@]}"; do cpu1+=("$(cpu_ns "$pid")"); ctx1+=("$(ctx_switches "$pid")"); done
kill -INT "$perf_pid"
wait "$perf_pid" || true
perf_pid=""

requests=$(awk -F= '$1 == "ops" || $1 == "events" { print $2 } $1 == "commits" { print $2 * 7 }' <<<"$result" | head -n 1)
echo "workload: xsbench ${args[*]} against ${names[*]}"
echo "$result" | sed 's/^/  /'
echo
echo "per request ($requests requests; a transaction counts 7: start, 5 writes, end):"
printf '  %-13s %12s %18s %8s\n' process "CPU us/req" "ctx switches/req" threads
for i in "${!procs[@]}"; do
  printf '  %-13s %12.1f %18.2f %8d\n' "${names[$i]}" \
    "$(awk -v a="${cpu0[$i]}" -v b="${cpu1[$i]}" -v n="$requests" 'BEGIN { print (b - a) / 1000 / n }')" \
    "$(awk -v a="${ctx0[$i]}" -v b="${ctx1[$i]}" -v n="$requests" 'BEGIN { print (b - a) / n }')" \
    "$(threads "${procs[$i]}")"
done
echo

"$perf" report -i "$out/perf.data" --stdio --no-children --sort comm,dso -g none --percent-limit 1 \
  2>/dev/null | grep -v '^$' >"$out/by-dso.txt" || true
"$perf" report -i "$out/perf.data" --stdio --no-children --sort comm,sym -g none --percent-limit 0.4 \
  2>/dev/null | grep -v '^$' >"$out/by-symbol.txt" || true
echo "perf report: self time by process and library"
grep -v '^#' "$out/by-dso.txt" | head -n 25
echo
echo "perf report: self time by process and symbol"
grep -v "^#" "$out/by-symbol.txt" | head -n 60
if [ "$call_graph" = 1 ]; then
  "$perf" report -i "$out/perf.data" --stdio --children --sort comm,sym -g none --percent-limit 3 \
    2>/dev/null | grep -v '^$' >"$out/inclusive.txt" || true
  echo
  echo "perf report: inclusive time (children) by process and symbol"
  grep -v '^#' "$out/inclusive.txt" | head -n 60
fi
