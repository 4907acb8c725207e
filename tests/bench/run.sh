#!/bin/bash
# run.sh - the dxs benchmark: the same workloads against dxs (dxs-store + dxs-frontend in
# their default configuration: RocksDB WAL on, no fsync), Debian's C xenstored and
# oxenstored, in one run, and ONE table: each daemon's figures and dxs's ratio to the best
# of the two others. The table opens with the CPU time each daemon spends per request (all
# its processes: dxs-store and dxs-frontend together), workload by workload: on a small
# dom0 that, not the wall clock, decides throughput (ARCHITECTURE.md section 7).
#
# usage: tests/bench/run.sh [--smoke | --quick | --full] [--repeat N] [--daemons "dxs c ocaml"]
#
#   --full    (default) the sizes of docs/performance.md; rows measured on a running
#             daemon are the median of 3 runs. About 10 minutes on 2 cores.
#   --quick   smaller sizes, one run each; a few minutes.
#   --smoke   tiny sizes, seconds. The test suite runs it (suite 'bench'): it checks that
#             every workload runs and the table is printed, never a timing.
#   --repeat N       runs of each workload on a running daemon (median reported)
#   --daemons LIST   which daemons to run (default "dxs c ocaml")
#   --wait-idle S    before each daemon, wait up to S seconds for the other processes on
#                    the machine to leave the CPUs at least 85% idle (measured over 2 s);
#                    the busy share found is printed in the notes
#
# Before: meson compile -C build bench   (builds tests/bench/xsbench, the workload client)
#
# Environment:
#   DXS_BUILD       build directory (default: build/ at the top of the repository)
#   DXS_STORE, DXS_FRONTEND, XSBENCH, RING_BENCH    the binaries (default: under DXS_BUILD)
#   SIMXEN_LIB      libsimxen.so (default: DXS_BUILD/tests/simxen/libsimxen.so)
#   DXS_PEERS       a directory with another start-peer.sh to use instead of
#                   tests/simxen/start-peer.sh (same arguments; it is given SIMXEN_DIR and
#                   SIMXEN_LIB, and the ring rows need it to put the peer on that machine)
#   DXS_BENCH_TMP   parent of the temporary directory (default /tmp)
#   DXS_KEEP_TMP=1  keep the temporary directory (daemon logs, raw results)
#
# Each daemon is started on fresh state under the temporary directory for each group of
# workloads: the request workloads, the large tree (memory, disk, xenstore-ls), the guest
# rings (ring_bench), the VM-lifecycle replay over the socket and with its guests over rings.
# Every daemon, dxs's frontend included, runs on a simulated Xen machine of its own
# (tests/simxen, LD_PRELOAD of libsimxen.so, SIMXEN_DIR in the instance's directory), so that
# the ring rows run against the same kind of instance as the socket rows. Progress goes to stderr, the table to stdout. Exit status 1 if a
# workload failed against dxs (a peer's failure is reported in the table and notes).
#
# Clients that print rows (each run against a freshly started daemon; every stdout line
#     row<TAB>LABEL<TAB>UNIT<TAB>higher|lower|info<TAB>VALUE
# becomes a row of the table, other lines are ignored, a non-zero exit marks it failed):
#   ring_bench (built when Xen's headers are there): simulated guests on the daemon's simxen
#     machine write and read their own paths over their rings; ops/s, and the CPU time per
#     request of the daemon's processes (/proc/<pid>/task/*/schedstat), sampled by
#     ring_bench around each phase for the pids run.sh gives it. Then, on an instance of its
#     own, `ring_bench --hostile S`: the hostile mix with guests over rings as the attackers
#     and the victim (the ratio of a guest's serial reads under attack to alone, and the
#     daemon's memory growth).
#   vm_lifecycle, if an executable $DXS_BUILD/tests/bench/vm_lifecycle or
#     tests/bench/vm_lifecycle exists: --socket SOCKET --mode smoke|quick|full
#     --simxen SIMXEN_DIR (XENSTORED_PATH=SOCKET too), and again with --ring as well: the
#     guests over rings.
set -eu

usage() { sed -n '2,27p' "$0" >&2; exit 2; }

mode=full
repeat=
daemons="dxs c ocaml"
wait_idle=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) mode=smoke ;;
    --quick) mode=quick ;;
    --full) mode=full ;;
    --repeat) [ $# -ge 2 ] || usage; repeat=$2; shift ;;
    --daemons) [ $# -ge 2 ] || usage; daemons=$2; shift ;;
    --wait-idle) [ $# -ge 2 ] || usage; wait_idle=$2; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done

# Sizes. TREE_NODES: the large tree; WATCHERS x WATCH_WRITES events; HOSTILE_SECONDS: the
# victim's time alone and under attack; RING_ARGS: guests and
# requests per guest of ring_bench.
case "$mode" in
  smoke)
    SERIAL_OPS=200; PAR_OPS=320; DIR_CHILDREN=500; DIR_OPS=100; TREE_NODES=2000
    TXN_CLIENTS=4; TXN_COUNT=20; TXN_KEYS=5; WATCHERS=10; WATCH_WRITES=20
    RING_ARGS="--smoke"; HOSTILE_SECONDS=1; STARVE_TXNS=5
    default_repeat=1; limit=120 ;;
  quick)
    SERIAL_OPS=5000; PAR_OPS=10000; DIR_CHILDREN=500; DIR_OPS=2000; TREE_NODES=20000
    TXN_CLIENTS=4; TXN_COUNT=500; TXN_KEYS=5; WATCHERS=100; WATCH_WRITES=200
    RING_ARGS="--guests 50 --ops 200"; HOSTILE_SECONDS=3; STARVE_TXNS=50
    default_repeat=1; limit=900 ;;
  full)
    SERIAL_OPS=20000; PAR_OPS=40000; DIR_CHILDREN=500; DIR_OPS=10000; TREE_NODES=100000
    TXN_CLIENTS=4; TXN_COUNT=500; TXN_KEYS=5; WATCHERS=100; WATCH_WRITES=1000
    RING_ARGS="--guests 50 --ops 1000"; HOSTILE_SECONDS=5; STARVE_TXNS=100
    default_repeat=3; limit=1800 ;;
esac
repeat=${repeat:-$default_repeat}
read -r -a ring_args <<<"$RING_ARGS"

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${DXS_BUILD:-$top/build}
store_bin=${DXS_STORE:-$build/store/dxs-store}
frontend_bin=${DXS_FRONTEND:-$build/frontend/dxs-frontend}
xsbench=${XSBENCH:-$build/tests/bench/xsbench}
simxen_lib=${SIMXEN_LIB:-$build/tests/simxen/libsimxen.so}
ring_bench=${RING_BENCH:-$build/tests/bench/ring_bench}
# The peers' launcher: the repository's own, unless DXS_PEERS names another.
if [ -n "${DXS_PEERS:-}" ]; then start_peer=$DXS_PEERS/start-peer.sh; else start_peer=$top/tests/simxen/start-peer.sh; fi

for bin in "$store_bin" "$frontend_bin" "$xsbench"; do
  if [ ! -x "$bin" ]; then
    echo "run.sh: $bin not found; build first: meson compile -C ${build#"$top"/} bench" >&2
    exit 1
  fi
done

# Without libsimxen.so (built when Xen's headers are there) dxs serves its socket alone and
# neither the peers nor the ring rows can run.
simxen=""
if [ -r "$simxen_lib" ]; then simxen=1; fi

tmp=$(mktemp -d "${DXS_BENCH_TMP:-/tmp}/dxs-bench.XXXXXX")
results=$tmp/results.tsv   # daemon <TAB> key <TAB> value, one line per measurement
rows=$tmp/rows.tsv         # key <TAB> label <TAB> unit <TAB> higher|lower|info
notes=$tmp/notes.txt
: >"$results"; : >"$rows"; : >"$notes"
running=""                 # pids of the daemons currently up
sock=""
instance=""               # the directory of the daemon instance running
dxs_failed=0

log() { printf '%s\n' "$*" >&2; }

# Waits up to 10 s for a process to exit after SIGTERM, then kills it.
stop_pid() {
  local pid=$1 i state
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    state=$(awk '{ sub(/.*\) /, ""); print substr($0, 1, 1) }' "/proc/$pid/stat" 2>/dev/null) || break
    if [ -z "$state" ] || [ "$state" = Z ]; then break; fi
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_daemon() {
  local pid
  for pid in $running; do stop_pid "$pid"; done
  running=""
}

cleanup() {
  stop_daemon
  if [ -n "${DXS_KEEP_TMP:-}" ]; then
    log "run.sh: kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_daemon NAME DIR: starts a fresh instance with its state under DIR; sets $sock and
# $running. Ready when the client socket answers a request.
start_daemon() {
  local name=$1 dir=$2
  mkdir -p "$dir"
  instance=$dir
  sock=$dir/xs.sock
  simxen_dir=$dir/simxen
  mkdir -p "$simxen_dir/dom" "$simxen_dir/ring" "$simxen_dir/evtchn"
  case "$name" in
    dxs)
      : >"$dir/dxs.conf"   # the defaults, whatever /etc/dxs/dxs.conf says
      "$store_bin" --state-dir "$dir/state" --listen "unix:$dir/store.sock" \
        --ops-listen "unix:$dir/ops.sock" --config "$dir/dxs.conf" >"$dir/store.log" 2>&1 &
      store_pid=$!
      # On the simulated machine when libsimxen.so is built: the frontend serves rings too.
      # (ASan's link-order check would refuse the preloaded library.)
      if [ -n "$simxen" ]; then
        LD_PRELOAD=$simxen_lib SIMXEN_DIR=$simxen_dir \
          ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
          "$frontend_bin" --store "unix:$dir/store.sock" --socket "$sock" --xen \
          --config "$dir/dxs.conf" >"$dir/frontend.log" 2>&1 &
      else
        "$frontend_bin" --store "unix:$dir/store.sock" --socket "$sock" \
          --config "$dir/dxs.conf" >"$dir/frontend.log" 2>&1 &
      fi
      frontend_pid=$!
      running="$frontend_pid $store_pid"
      ;;
    c|ocaml)
      # start-peer.sh execs the daemon: its pid is the daemon's.
      SIMXEN_DIR=$simxen_dir SIMXEN_LIB=$simxen_lib \
        "$start_peer" "$name" "$sock" "$dir/state" >"$dir/daemon.log" 2>&1 &
      peer_pid=$!
      running=$peer_pid
      ;;
  esac
  local pid_args=() pid
  for pid in $running; do pid_args+=(--pid "$pid"); done
  if ! "$xsbench" ping --socket "$sock" --timeout-s 60 "${pid_args[@]}" 2>>"$dir/ping.log"; then
    log "run.sh: $(label_of "$name") did not start: $(tail -n 1 "$dir/ping.log")"
    stop_daemon
    {
      printf '%s did not start: %s; its logs end:\n' "$(label_of "$name")" "$(tail -n 1 "$dir/ping.log")"
      tail -n 3 "$dir"/*.log 2>/dev/null | sed 's/^/  /'
    } >>"$notes"
    return 1
  fi
}

label_of() {
  case "$1" in dxs) echo dxs ;; c) echo "C xenstored" ;; ocaml) echo oxenstored ;; esac
}

record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results"; }

# workload DAEMON KEY XSBENCH-ARGS...: runs one workload against $sock and records its
# key=value results as KEY.<name>.
workload() {
  local daemon=$1 key=$2 out k v status=0 why pid
  shift 2
  log "  $(label_of "$daemon"): $key"
  for pid in $running; do
    if ! kill -0 "$pid" 2>/dev/null; then
      record "$daemon" "$key.failed" 1
      printf '%s, %s: not run: the daemon had exited\n' "$(label_of "$daemon")" "$key" >>"$notes"
      if [ "$daemon" = dxs ]; then dxs_failed=1; fi
      return 0
    fi
  done
  # The daemon's processes, whose CPU time xsbench reports per request.
  local pid_args=()
  for pid in $running; do pid_args+=(--pid "$pid"); done
  out=$(timeout --kill-after=10 "$limit" "$xsbench" "$@" --socket "$sock" "${pid_args[@]}" 2>"$tmp/last.err") || status=$?
  if [ "$status" -eq 0 ]; then
    while IFS='=' read -r k v; do
      if [ -n "$k" ]; then record "$daemon" "$key.$k" "$v"; fi
      if [ "$k" = lost ] && [ "$v" != 0 ]; then
        printf '%s, %s: %s events lost: %s\n' "$(label_of "$daemon")" "$key" "$v" "$(tail -n 1 "$tmp/last.err")" >>"$notes"
        if [ "$daemon" = dxs ]; then dxs_failed=1; fi
      fi
    done <<<"$out"
  else
    why=$(tail -n 1 "$tmp/last.err")
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then why="no result after $limit s; $why"; fi
    record "$daemon" "$key.failed" 1
    printf '%s, %s: failed: %s\n' "$(label_of "$daemon")" "$key" "$why" >>"$notes"
    log "  FAILED: $why"
    for pid in $running; do
      if ! kill -0 "$pid" 2>/dev/null; then
        printf '  a daemon process (pid %s) exited; its logs end:\n' "$pid" >>"$notes"
        tail -n 3 "$instance"/*.log 2>/dev/null | sed 's/^/    /' >>"$notes"
      fi
    done
    if [ "$daemon" = dxs ]; then dxs_failed=1; fi
  fi
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Per-daemon resident memory in kB: dxs is the sum of its two processes.
record_rss() {
  local daemon=$1 prefix=$2
  if [ "$daemon" = dxs ]; then
    local s f
    s=$(rss_kb "$store_pid"); f=$(rss_kb "$frontend_pid")
    record dxs "$prefix.store_rss_kb" "$s"
    record dxs "$prefix.frontend_rss_kb" "$f"
    record dxs "$prefix.rss_kb" $((s + f))
  else
    record "$daemon" "$prefix.rss_kb" "$(rss_kb "$peer_pid")"
  fi
}

vm_lifecycle=""
for candidate in "$build/tests/bench/vm_lifecycle" "$top/tests/bench/vm_lifecycle"; do
  if [ -f "$candidate" ] && [ -x "$candidate" ]; then vm_lifecycle=$candidate; break; fi
done

# Percent of CPU time the machine spent busy over 2 s (our own daemons are stopped).
busy_percent() {
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
  sleep 2
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    t = y[2] - x[2]; printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0) }'
}

# Waits (up to --wait-idle seconds) for a quiet machine; notes how busy it was.
wait_for_idle() {
  local daemon=$1 busy start=$SECONDS
  if [ "$mode" = smoke ] && [ "$wait_idle" = 0 ]; then return 0; fi
  busy=$(busy_percent)
  while [ "$busy" -gt 15 ] && [ $((SECONDS - start)) -lt "$wait_idle" ]; do
    log "  the machine is ${busy}% busy; waiting for it to calm down"
    busy=$(busy_percent)
  done
  printf '%s: the machine was %s%% busy with other work just before its runs\n' \
    "$(label_of "$daemon")" "$busy" >>"$notes"
}

# external DAEMON PREFIX WHAT CLIENT ARGS...: runs a client that prints run.sh rows
#     row<TAB>LABEL<TAB>UNIT<TAB>higher|lower|info<TAB>VALUE
# (other lines are ignored) and records each as PREFIX:LABEL; the rows are listed in
# $rows.PREFIX in the order they first appear. A non-zero exit marks PREFIX failed.
external() {
  local daemon=$1 prefix=$2 what=$3 out line tag label unit better value status=0 why
  shift 3
  log "  $(label_of "$daemon"): $what"
  out=$(timeout --kill-after=10 "$limit" "$@" 2>"$tmp/last.err") || status=$?
  if [ "$status" -ne 0 ]; then
    why=$(grep -m 1 'FAILED' "$tmp/last.err" || tail -n 1 "$tmp/last.err")
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then why="no result after $limit s; $why"; fi
    record "$daemon" "$prefix.failed" 1
    printf '%s, %s: failed: %s\n' "$(label_of "$daemon")" "$what" "$why" >>"$notes"
    log "  FAILED: $why"
    if [ "$daemon" = dxs ]; then dxs_failed=1; fi
    return 0
  fi
  while IFS= read -r line; do
    IFS=$'\t' read -r tag label unit better value <<<"$line" || true
    [ "$tag" = row ] && [ -n "${value:-}" ] || continue
    if ! { [ -f "$rows.$prefix" ] && grep -qF -- "$prefix:$label"$'\t' "$rows.$prefix"; }; then
      printf '%s:%s\t%s\t%s\t%s\n' "$prefix" "$label" "$label" "$unit" "$better" >>"$rows.$prefix"
    fi
    record "$daemon" "$prefix:$label" "$value"
  done <<<"$out"
}

bench_daemon() {
  local daemon=$1 r base=$tmp/$1
  log "== $(label_of "$daemon")"
  wait_for_idle "$daemon"
  if ! start_daemon "$daemon" "$base-requests"; then
    record "$daemon" unavailable 1
    if [ "$daemon" = dxs ]; then dxs_failed=1; fi
    return 0
  fi
  for ((r = 1; r <= repeat; r++)); do
    workload "$daemon" serial_write serial --op write --ops "$SERIAL_OPS"
    workload "$daemon" serial_read serial --op read --ops "$SERIAL_OPS"
    workload "$daemon" par4_write parallel --op write --clients 4 --ops "$PAR_OPS"
    workload "$daemon" par4_read parallel --op read --clients 4 --ops "$PAR_OPS"
    workload "$daemon" par16_write parallel --op write --clients 16 --ops "$PAR_OPS"
    workload "$daemon" par16_read parallel --op read --clients 16 --ops "$PAR_OPS"
    workload "$daemon" dir directory --children "$DIR_CHILDREN" --ops "$DIR_OPS"
    workload "$daemon" txn txn --clients "$TXN_CLIENTS" --txns "$TXN_COUNT" --keys "$TXN_KEYS"
    workload "$daemon" watch watch --watchers "$WATCHERS" --writes "$WATCH_WRITES"
    workload "$daemon" starve starve --txns "$STARVE_TXNS" --rivals 2
  done
  stop_daemon

  # The hostile mix on an instance of its own: what the attackers leave (transactions
  # held, events queued) must not touch the other rows.
  if start_daemon "$daemon" "$base-hostile"; then
    workload "$daemon" hostile hostile --seconds "$HOSTILE_SECONDS"
    stop_daemon
  fi

  if start_daemon "$daemon" "$base-tree"; then
    record_rss "$daemon" empty
    workload "$daemon" tree populate --nodes "$TREE_NODES"
    record_rss "$daemon" mem
    if [ "$daemon" = dxs ]; then
      record dxs mem.disk_bytes "$(du -sb "$base-tree/state" | cut -f1)"
    fi
    workload "$daemon" ls ls --nodes "$TREE_NODES"
    stop_daemon
  fi

  if [ -n "$simxen" ] && [ -x "$ring_bench" ]; then
    for ((r = 1; r <= repeat; r++)); do
      if start_daemon "$daemon" "$base-ring$r"; then
        # The CPU each daemon process spends per request; dxs's two apart as well.
        local cpu_args=()
        if [ "$daemon" = dxs ]; then
          cpu_args=(--pid "$store_pid:dxs-store" --pid "$frontend_pid:dxs-frontend")
        else
          cpu_args=(--pid "$peer_pid")
        fi
        external "$daemon" ring "guest rings (ring_bench)" "$ring_bench" --simxen-dir "$simxen_dir" \
          --socket "$sock" "${ring_args[@]}" "${cpu_args[@]}"
        stop_daemon
      fi
    done
    # The hostile mix again, its attackers guests over rings, on an instance of its own.
    if start_daemon "$daemon" "$base-ringhostile"; then
      local mem_args=()
      if [ "$daemon" = dxs ]; then
        mem_args=(--pid "$store_pid" --pid "$frontend_pid")
      else
        mem_args=(--pid "$peer_pid")
      fi
      external "$daemon" ringhostile "hostile mix over rings (ring_bench --hostile)" "$ring_bench" \
        --simxen-dir "$simxen_dir" --socket "$sock" --hostile "$HOSTILE_SECONDS" "${mem_args[@]}"
      stop_daemon
    fi
  fi

  # On simxen the domains must exist there (the peers refuse permissions naming a domain
  # that does not), so the replay creates them on the machine as Xen would.
  local on_simxen=()
  if [ -n "$vm_lifecycle" ] && start_daemon "$daemon" "$base-vm"; then
    if [ -n "$simxen" ]; then on_simxen=(--simxen "$simxen_dir"); fi
    XENSTORED_PATH=$sock external "$daemon" vm vm_lifecycle "$vm_lifecycle" --socket "$sock" \
      --mode "$mode" "${on_simxen[@]}"
    stop_daemon
  fi

  if [ -n "$vm_lifecycle" ] && [ -n "$simxen" ] && start_daemon "$daemon" "$base-vmring"; then
    XENSTORED_PATH=$sock external "$daemon" vmring "vm_lifecycle --ring" "$vm_lifecycle" \
      --socket "$sock" --mode "$mode" --simxen "$simxen_dir" --ring
    stop_daemon
  fi
}

# --- which daemons ------------------------------------------------------------------------
peer_status=""
selected=""
for d in $daemons; do
  case "$d" in
    dxs) selected="$selected dxs" ;;
    c|ocaml)
      if [ ! -x "$start_peer" ]; then
        peer_status="NOT AVAILABLE: no $start_peer; dxs runs alone"
      elif [ -z "$simxen" ]; then
        peer_status="NOT AVAILABLE: $simxen_lib is not built (Xen's headers, libxen-dev, are missing); dxs runs alone"
      elif [ ! -x /usr/lib/xen-4.17/bin/xenstored ] || [ ! -x /usr/lib/xen-4.17/bin/oxenstored ]; then
        peer_status="NOT AVAILABLE: xen-utils-4.17 is not installed; dxs runs alone"
      else
        selected="$selected $d"
      fi ;;
    *) echo "run.sh: unknown daemon $d (dxs, c, ocaml)" >&2; exit 2 ;;
  esac
done
case " $selected " in
  *" c "*|*" ocaml "*) ;;
  *) if [ -z "$peer_status" ]; then peer_status="not run (--daemons \"$daemons\")"; fi ;;
esac
if [ -z "$peer_status" ]; then
  xen_version=$(dpkg-query -W -f='${Version}' xen-utils-4.17 2>/dev/null || echo "?")
  peer_status="C xenstored and oxenstored from xen-utils-4.17 $xen_version, via ${start_peer#"$top"/} on simxen"
fi

load_start=$(cut -d ' ' -f 1 /proc/loadavg)
if awk -v l="$load_start" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  log "run.sh: warning: load average $load_start on $(nproc) cores; the figures will be noisy"
fi
for d in $selected; do bench_daemon "$d"; done
load_end=$(cut -d ' ' -f 1 /proc/loadavg)

# --- the table ------------------------------------------------------------------------------
add_row() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$rows"; }
# The headline: CPU per request of all the daemon's processes (dxs: both), workload by
# workload; on a 2-core dom0 it is what decides throughput (ARCHITECTURE.md section 7).
add_row serial_write.cpu_us_per_req "CPU per request: 1 client, serial writes" us lower
add_row serial_read.cpu_us_per_req "CPU per request: 1 client, serial reads" us lower
add_row par4_write.cpu_us_per_req "CPU per request: 4 clients, writes" us lower
add_row par4_read.cpu_us_per_req "CPU per request: 4 clients, reads" us lower
add_row par16_write.cpu_us_per_req "CPU per request: 16 clients, writes" us lower
add_row par16_read.cpu_us_per_req "CPU per request: 16 clients, reads" us lower
add_row dir.cpu_us_per_req "CPU per request: DIRECTORY of $DIR_CHILDREN children" us lower
add_row txn.cpu_us_per_req "CPU per request: transactions of $TXN_KEYS writes" us lower
add_row watch.cpu_us_per_event "CPU per event: watch fan-out to $WATCHERS watchers" us lower
add_row serial_write.ops_per_s "1 client, serial writes ($SERIAL_OPS ops)" ops/s higher
add_row serial_write.p50_us "1 client, serial writes: latency p50" us lower
add_row serial_write.p99_us "1 client, serial writes: latency p99" us lower
add_row serial_read.ops_per_s "1 client, serial reads ($SERIAL_OPS ops)" ops/s higher
add_row serial_read.p50_us "1 client, serial reads: latency p50" us lower
add_row serial_read.p99_us "1 client, serial reads: latency p99" us lower
add_row par4_write.ops_per_s "4 clients, writes ($PAR_OPS ops in total)" ops/s higher
add_row par4_read.ops_per_s "4 clients, reads ($PAR_OPS ops in total)" ops/s higher
add_row par16_write.ops_per_s "16 clients, writes ($PAR_OPS ops in total)" ops/s higher
add_row par16_read.ops_per_s "16 clients, reads ($PAR_OPS ops in total)" ops/s higher
add_row dir.ops_per_s "DIRECTORY of a node with $DIR_CHILDREN children" ops/s higher
add_row ls.seconds "xenstore-ls of a $TREE_NODES-node tree" s lower
add_row txn.commits_per_s "$TXN_CLIENTS clients x $TXN_COUNT transactions, $TXN_KEYS new keys under one parent" commits/s higher
add_row txn.eagain "  the same: EAGAIN (each retried)" count lower
add_row watch.events_per_s "watch fan-out: $WATCHERS watchers, 1 writer ($WATCH_WRITES writes)" events/s higher
add_row watch.lost "  the same: events lost" count lower
add_row starve.max_attempts "a transaction 2 writers keep overtaking ($STARVE_TXNS of them): most attempts one needed (at most 100)" count lower
add_row starve.mean_attempts "  the same: attempts per transaction" count lower
add_row starve.gave_up "  the same: transactions still losing after 100 attempts" count lower
add_row starve.commits_per_s "  the same: its transactions committed" commits/s higher
add_row starve.rival_writes_per_s "  the same: the 2 writers' writes meanwhile" writes/s info
add_row hostile.ratio "hostile mix: a victim's serial reads, under attack / alone" x higher
add_row hostile.alone_per_s "  the victim alone" ops/s higher
add_row hostile.attacked_per_s "  the victim beside 2 never-reading flooders, a transaction hoarder, an unread watch" ops/s higher
add_row hostile.rss_growth_kb "  the daemon's memory growth during the attack" MiB lower
add_row mem.rss_kb "resident memory holding the $TREE_NODES-node tree" MiB lower
add_row mem.store_rss_kb "  dxs-store" MiB info
add_row mem.frontend_rss_kb "  dxs-frontend" MiB info
add_row mem.bytes_per_node "memory per node ((RSS with tree - RSS empty) / nodes)" bytes lower
add_row mem.disk_bytes "dxs state on disk with the tree" MiB info
add_row mem.disk_per_node "  per node" bytes info
add_row tree.writes_per_s "(set-up) filling the tree: pipelined writes, 4 connections" writes/s higher
# The rows of the external clients, or one line saying why there are none.
if [ -s "$rows.ring" ]; then
  cat "$rows.ring" >>"$rows"
elif [ -z "$simxen" ] || [ ! -x "$ring_bench" ]; then
  add_row ring.none "guest rings (ring_bench): not built (needs Xen's headers, libxen-dev)" - info
else
  add_row ring.none "guest rings (ring_bench): no rows" - info
fi
if [ -s "$rows.ringhostile" ]; then cat "$rows.ringhostile" >>"$rows"; fi
if [ -s "$rows.vm" ]; then
  cat "$rows.vm" >>"$rows"
elif [ -n "$vm_lifecycle" ]; then
  add_row vm.none "VM lifecycle replay ($vm_lifecycle): no rows" - info
else
  add_row vm.none "VM lifecycle replay (tests/bench/vm_lifecycle): not yet available" - info
fi
if [ -s "$rows.vmring" ]; then
  cat "$rows.vmring" >>"$rows"
elif [ -n "$vm_lifecycle" ] && [ -n "$simxen" ]; then
  add_row vmring.none "VM lifecycle replay, guests over rings: no rows" - info
fi

# Derived figures: memory per node (RSS growth) and disk per node, from each daemon's own
# measurements.
awk -F '\t' '
  { v[$1 "\t" $2] = $3; d[$1] = 1 }
  END {
    for (x in d) {
      n = v[x "\ttree.nodes"]
      if (n > 0 && ((x "\tmem.rss_kb") in v) && ((x "\tempty.rss_kb") in v))
        printf "%s\tmem.bytes_per_node\t%.0f\n", x, (v[x "\tmem.rss_kb"] - v[x "\tempty.rss_kb"]) * 1024 / n
      if (n > 0 && ((x "\tmem.disk_bytes") in v))
        printf "%s\tmem.disk_per_node\t%.0f\n", x, v[x "\tmem.disk_bytes"] / n
    }
  }' "$results" >>"$results"

cpu=$(awk -F ': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
buildtype="?"
if [ -f "$build/meson-info/intro-buildoptions.json" ]; then
  buildtype=$(python3 -c 'import json,sys
o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
print(o.get("buildtype", "?") + ("" if o.get("b_sanitize", "none") == "none" else ", sanitize=" + o["b_sanitize"]))' \
    "$build/meson-info/intro-buildoptions.json" 2>/dev/null || echo "?")
fi
# The source the dxs binaries were built from (DXS_BUILD may be another checkout).
src=$top
if [ -f "$build/meson-info/meson-info.json" ]; then
  src=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["directories"]["source"])' \
    "$build/meson-info/meson-info.json" 2>/dev/null || echo "$top")
fi
commit=$(git -C "$src" describe --always --dirty 2>/dev/null || echo "?")

echo "dxs benchmark, mode $mode (runs on a running daemon: median of $repeat)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: ${cpu:-unknown CPU}, $(nproc) cores, Linux $(uname -r)"
echo "dxs:     $src at $commit, build ${buildtype:-?}, default configuration (WAL on, no fsync)"
echo "peers:   $peer_status"
echo "load:    1-minute load average $load_start at the start, $load_end at the end (other processes compete for the cores)"
echo

awk -F '\t' -v daemons="$selected" '
  function median(key,    n, i, j, t, a) {
    n = split(vals[key], a, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function fmt(x, unit, key) {
    if (unit == "MiB") x = (key ~ /_bytes$/) ? x / 1048576 : x / 1024
    if (unit == "MiB" || unit == "s" || unit == "x") return sprintf("%.2f", x)
    if (unit == "us") return sprintf("%.1f", x)
    return sprintf("%.0f", x)
  }
  FNR == NR { order[++nrows] = $1; label[$1] = $2; unit[$1] = $3; better[$1] = $4; next }
  { key = $1 SUBSEP $2
    vals[key] = (key in vals) ? vals[key] " " $3 : $3
    if ($2 ~ /\.failed$/) failed[$1 SUBSEP substr($2, 1, length($2) - 7)] = 1
    if ($2 == "unavailable") unavailable[$1] = 1 }
  END {
    nd = split(daemons, ds, " ")
    name["dxs"] = "dxs"; name["c"] = "C xenstored"; name["ocaml"] = "oxenstored"
    ncol = 0
    cell[0, ++ncol] = "workload"; cell[0, ++ncol] = "unit"
    for (i = 1; i <= nd; i++) cell[0, ++ncol] = name[ds[i]]
    cell[0, ++ncol] = "dxs/best peer"; cell[0, ++ncol] = "dxs better if"
    for (r = 1; r <= nrows; r++) {
      k = order[r]
      c = 0
      cell[r, ++c] = label[k]; cell[r, ++c] = unit[k]
      best = ""; dxsv = ""
      for (i = 1; i <= nd; i++) {
        d = ds[i]; prefix = k
        if (match(k, /^[a-z]+:/)) prefix = substr(k, 1, RLENGTH - 1); else sub(/\.[^.]*$/, "", prefix)
        m = median(d SUBSEP k)
        if (unavailable[d]) s = "n/a"
        else if (m == "" && failed[d SUBSEP prefix]) s = "failed"
        else if (m == "") s = "-"
        else s = fmt(m, unit[k], k) (failed[d SUBSEP prefix] ? " *" : "")
        if (s ~ / \*$/) starred = 1
        cell[r, ++c] = s
        if (m == "" || unavailable[d]) continue
        if (d == "dxs") dxsv = m
        else if (best == "" || (better[k] == "higher" && m > best) || (better[k] == "lower" && m < best)) best = m
      }
      ratio = "-"; hint = "-"
      if (better[k] == "higher" || better[k] == "lower") {
        hint = (better[k] == "higher") ? "> 1" : "< 1"
        if (dxsv != "" && best != "") {
          if (best > 0) ratio = sprintf("%.2f", dxsv / best)
          else if (dxsv == 0) ratio = "equal (0)"
          else ratio = "inf (best 0)"
        }
      }
      cell[r, ++c] = ratio; cell[r, ++c] = hint
    }
    for (j = 1; j <= ncol; j++) { w[j] = 0; for (r = 0; r <= nrows; r++) if (length(cell[r, j]) > w[j]) w[j] = length(cell[r, j]) }
    for (r = 0; r <= nrows; r++) {
      line = "|"
      for (j = 1; j <= ncol; j++) {
        if (j <= 2) line = line sprintf(" %-" w[j] "s |", cell[r, j])
        else line = line sprintf(" %" w[j] "s |", cell[r, j])
      }
      print line
      if (r == 0) {
        line = "|"
        for (j = 1; j <= ncol; j++) { dash = ""; for (x = 0; x < w[j] + 2; x++) dash = dash "-"; if (j > 2) dash = substr(dash, 1, length(dash) - 1) ":"; line = line dash "|" }
        print line
      }
    }
    if (starred) print "\n*: some runs of that workload failed (see the notes); the figure is the median of the others."
  }' "$rows" "$results"

echo
echo "ratio: dxs divided by the best peer on that row (for throughput the fastest, for latency,"
echo "time and memory the lowest); \"dxs better if\" says which side of 1 favours dxs."
if [ -s "$notes" ]; then
  echo
  echo "notes:"
  sed 's/^/  /' "$notes"
fi
if [ -n "${DXS_KEEP_TMP:-}" ]; then echo "raw results: $results"; fi
exit "$dxs_failed"
