#!/bin/bash
# instructions.sh - user-space instructions per request of dxs (both processes) and of the
# reference daemons, counted by valgrind's callgrind, side by side in one run. Unlike CPU
# time, the count does not move with the machine's load or its CPUs' wake-up latency, so
# a change to the request path can be compared on a noisy VM; it leaves out the kernel
# (system calls, wake-ups), which profile.sh and run.sh's CPU rows include.
#
# Each workload runs twice on the same instance, with N1 and N2 requests, and the figure
# is (instructions of the second run - of the first) / (N2 - N1): what one more request
# costs, with the connection's setup and the keys xsbench creates first cancelled out.
# dxs runs with store.spin-us and frontend.spin-us 0: under valgrind a spin would count
# the emulator's slowness, not the request's work.
#
# usage: tests/bench/instructions.sh [--daemons dxs,c,ocaml] [--workloads LIST]
#                                    [--ops N1,N2] [--config FILE]
#
#   --daemons    which to count (default dxs, plus each peer its launcher can start)
#   --workloads  serial-write, serial-read, par4-write, par4-read (default the four), and
#                vm: the VM-lifecycle replay (vm_lifecycle), N1/100 VMs then N2/100, its
#                figure divided by the difference of the requests the replay counted
#   --ops        the two runs' requests per client (default 1000,3000; N1 at least 1000:
#                a run writes as many keys as it has requests, up to 1000 a client, then
#                overwrites or reads them, so both runs create the same)
#   --config     more dxs configuration lines (the spins stay 0)
#
# Environment: DXS_BUILD, DXS_STORE, DXS_FRONTEND, XSBENCH, SIMXEN_LIB, DXS_PEERS as for
# run.sh; VALGRIND (default valgrind); DXS_KEEP_TMP=1 keeps the callgrind dumps (one
# after each run: callgrind_annotate, or cgdiff.py of two) and the daemons' logs. Needs
# valgrind (apt-get install valgrind).
set -eu

usage() { sed -n '2,29p' "$0" >&2; exit 2; }

daemons=""
workloads="serial-write,serial-read,par4-write,par4-read"
ops="1000,3000"
config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --daemons) [ $# -ge 2 ] || usage; daemons=$2; shift ;;
    --workloads) [ $# -ge 2 ] || usage; workloads=$2; shift ;;
    --ops) [ $# -ge 2 ] || usage; ops=$2; shift ;;
    --config) [ $# -ge 2 ] || usage; config=$2; shift ;;
    -h|--help) usage ;;
    *) echo "instructions.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
n1=${ops%,*} n2=${ops#*,}
[[ "$n1" =~ ^[0-9]+$ && "$n2" =~ ^[0-9]+$ && "$n1" -ge 1000 && "$n2" -gt "$n1" ]] ||
  { echo "instructions.sh: --ops N1,N2 with 1000 <= N1 < N2" >&2; exit 2; }

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${DXS_BUILD:-$top/build}
store_bin=${DXS_STORE:-$build/store/dxs-store}
frontend_bin=${DXS_FRONTEND:-$build/frontend/dxs-frontend}
xsbench=${XSBENCH:-$build/tests/bench/xsbench}
vm_lifecycle=${VM_LIFECYCLE:-$build/tests/bench/vm_lifecycle}
simxen_lib=${SIMXEN_LIB:-$build/tests/simxen/libsimxen.so}
valgrind=${VALGRIND:-valgrind}
if [ -n "${DXS_PEERS:-}" ]; then start_peer=$DXS_PEERS/start-peer.sh; else start_peer=$top/tests/simxen/start-peer.sh; fi
for bin in "$store_bin" "$frontend_bin" "$xsbench"; do
  [ -x "$bin" ] || { echo "instructions.sh: $bin not found (meson compile -C build bench)" >&2; exit 1; }
done
if ! command -v "$valgrind" >/dev/null || ! command -v callgrind_control >/dev/null; then
  echo "instructions.sh: valgrind and callgrind_control not found (apt-get install valgrind)" >&2
  exit 1
fi

peer_bin=${XENSTORE_PEER_BIN:-/usr/lib/xen-4.17/bin}
if [ -z "$daemons" ]; then
  daemons=dxs
  if [ -r "$simxen_lib" ]; then
    [ -x "$peer_bin/xenstored" ] && daemons+=,c
    [ -x "$peer_bin/oxenstored" ] && daemons+=,ocaml
  fi
  [ "$daemons" != dxs ] || echo "instructions.sh: no reference daemons here (xen-utils-4.17); dxs alone"
fi

tmp=$(mktemp -d "${DXS_BENCH_TMP:-/tmp}/dxs-instructions.XXXXXX")
pids=""
stop_all() {
  local pid i
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $pids; do
    for ((i = 0; i < 400; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=""
}
keep_or_remove() {
  if [ "${DXS_KEEP_TMP:-0}" = 1 ]; then echo "instructions.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap 'stop_all; keep_or_remove' EXIT
trap 'exit 130' INT TERM

callgrind=("$valgrind" --tool=callgrind --instr-atstart=no --dump-instr=no)

xsbench_args() {
  case "$1" in
    serial-write) echo serial --op write --ops "$2" ;;
    serial-read) echo serial --op read --ops "$2" ;;
    par4-write) echo parallel --op write --clients 4 --ops $((4 * $2)) ;;
    par4-read) echo parallel --op read --clients 4 --ops $((4 * $2)) ;;
    *) echo "instructions.sh: unknown workload $1" >&2; return 1 ;;
  esac
}

clients() { case "$1" in par4-*) echo 4 ;; *) echo 1 ;; esac; }

# Runs workload $1 with $2 requests a client on socket $3; prints the requests it made.
# $4: the simxen machine the daemon runs on, if any (the replay then creates the domains
# there, as Xen would: the peers refuse permissions naming a domain that does not exist).
run_workload() {
  if [ "$1" = vm ]; then
    [ -x "$vm_lifecycle" ] || { echo "instructions.sh: $vm_lifecycle not found" >&2; return 1; }
    local on_simxen=()
    if [ -n "${4:-}" ]; then on_simxen=(--simxen "$4"); fi
    "$vm_lifecycle" --socket "$3" --vms $(($2 / 100)) "${on_simxen[@]}" --json 2>/dev/null |
      awk -F'"requests": ' 'NF > 1 { split($2, a, ","); n += a[1] } END { print n }'
  else
    # shellcheck disable=SC2046
    "$xsbench" $(xsbench_args "$1" "$2") --socket "$3" >/dev/null
    echo $(($(clients "$1") * $2))
  fi
}

# The instruction total of a callgrind dump.
total() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }
# The newest dump of the profile written to $1.out.
newest() { ls -v "$1".out.* 2>/dev/null | tail -n 1; }

declare -A result  # result[daemon,workload,process] = instructions per request
run_daemon() {
  local daemon=$1 dir=$tmp/$1 procs=() labels=() i w simxen_dir=
  mkdir -p "$dir"
  case "$daemon" in
    dxs)
      { echo "store.spin-us = 0"; echo "frontend.spin-us = 0"; if [ -n "$config" ]; then cat "$config"; fi; } >"$dir/dxs.conf"
      "${callgrind[@]}" --callgrind-out-file="$dir/store.out" "$store_bin" --state-dir "$dir/state" \
        --listen "unix:$dir/store.sock" --ops-listen "unix:$dir/ops.sock" --config "$dir/dxs.conf" \
        >"$dir/store.log" 2>&1 &
      procs+=($!); labels+=(store); pids+=" $!"
      "${callgrind[@]}" --callgrind-out-file="$dir/frontend.out" "$frontend_bin" \
        --store "unix:$dir/store.sock" --socket "$dir/xs.sock" --config "$dir/dxs.conf" \
        >"$dir/frontend.log" 2>&1 &
      procs+=($!); labels+=(frontend); pids+=" $!"
      ;;
    c|ocaml)
      simxen_dir=$dir/simxen
      SIMXEN_DIR=$dir/simxen SIMXEN_LIB=$simxen_lib \
        XENSTORE_PEER_WRAPPER="${callgrind[*]} --callgrind-out-file=$dir/daemon.out" \
        "$start_peer" "$daemon" "$dir/xs.sock" "$dir/peer" >"$dir/peer.log" 2>&1 &
      procs+=($!); labels+=(daemon); pids+=" $!"
      ;;
    *) echo "instructions.sh: unknown daemon $daemon" >&2; exit 2 ;;
  esac
  local ping=()
  for i in "${procs[@]}"; do ping+=(--pid "$i"); done
  "$xsbench" ping --socket "$dir/xs.sock" "${ping[@]}" >/dev/null
  for i in "${procs[@]}"; do callgrind_control -i on "$i" >/dev/null 2>&1; done
  IFS=, read -r -a ws <<<"$workloads"
  for w in "${ws[@]}"; do
    local before=() after=() r1 r2
    r1=$(run_workload "$w" "$n1" "$dir/xs.sock" "$simxen_dir")
    for i in "${procs[@]}"; do callgrind_control -d "$i" >/dev/null 2>&1; done
    for i in "${!procs[@]}"; do before+=("$(total "$(newest "$dir/${labels[$i]}")")"); done
    r2=$(run_workload "$w" "$n2" "$dir/xs.sock" "$simxen_dir")
    for i in "${procs[@]}"; do callgrind_control -d "$i" >/dev/null 2>&1; done
    for i in "${!procs[@]}"; do after+=("$(total "$(newest "$dir/${labels[$i]}")")"); done
    [ "${r2:-0}" -gt "${r1:-0}" ] || { echo "instructions.sh: $w: no requests counted" >&2; exit 1; }
    for i in "${!procs[@]}"; do
      result[$daemon,$w,${labels[$i]}]=$(((after[i] - before[i]) / (r2 - r1)))
    done
  done
  stop_all
}

IFS=, read -r -a ds <<<"$daemons"
for d in "${ds[@]}"; do run_daemon "$d"; done

echo "user-space instructions per request (callgrind; runs of $n1 and $n2 requests a client)"
printf '%-13s %10s %10s %10s' workload dxs-store frontend "dxs" 
for d in "${ds[@]}"; do [ "$d" = dxs ] || printf ' %10s' "$([ "$d" = c ] && echo xenstored || echo oxenstored)"; done
printf ' %14s\n' "dxs/best peer"
IFS=, read -r -a ws <<<"$workloads"
for w in "${ws[@]}"; do
  line=$(printf '%-13s' "$w")
  dxs=""
  if [[ " ${ds[*]} " == *" dxs "* ]]; then
    s=${result[dxs,$w,store]} f=${result[dxs,$w,frontend]} dxs=$((s + f))
    line+=$(printf ' %10d %10d %10d' "$s" "$f" "$dxs")
  else
    line+=$(printf ' %10s %10s %10s' - - -)
  fi
  best=""
  for d in "${ds[@]}"; do
    [ "$d" = dxs ] && continue
    v=${result[$d,$w,daemon]}
    line+=$(printf ' %10d' "$v")
    if [ -z "$best" ] || [ "$v" -lt "$best" ]; then best=$v; fi
  done
  if [ -n "$dxs" ] && [ -n "$best" ] && [ "$best" -gt 0 ]; then
    line+=$(awk -v a="$dxs" -v b="$best" 'BEGIN { printf " %14.2f", a / b }')
  else
    line+=$(printf ' %14s' -)
  fi
  echo "$line"
done
