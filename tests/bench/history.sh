#!/bin/bash
# history.sh - the history benchmark (issue 16): with a long history retained, how fast
# the History API answers (at, blame, log --path, show), what history costs on disk, and
# whether an export of all of it holds clients up.
#
# usage: tests/bench/history.sh [--smoke] [--commits N] [--domains D] [--calls C]
#
#   (default)  1 000 000 commits over 100 guests' trees: about 2 minutes on 2 cores,
#              most of it filling the state (history_populate drives the store's engine).
#   --smoke    20 000 commits, a few calls: seconds. The test suite runs it (suite
#              'bench'): it checks that it runs, never a timing.
#
# Output: run.sh's rows (row<TAB>LABEL<TAB>UNIT<TAB>lower|higher|info<TAB>VALUE) on stdout;
# progress on stderr. The peers keep no history, so there is nothing to compare with side
# by side: the rows are dxs's alone, and the write path's cost of keeping history is in
# run.sh's write rows (docs/performance.md, "History").
#
# Before: meson compile -C build bench   (history_populate, history_bench)
#
# Environment: DXS_BUILD (default build/), DXS_STORE, DXS_FRONTEND, HISTORY_POPULATE,
# HISTORY_BENCH (default under DXS_BUILD), DXS_BENCH_TMP (parent of the temporary
# directory, default /tmp), DXS_KEEP_TMP=1 (keep it: the state and the daemons' logs).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${DXS_BUILD:-$top/build}
store_bin=${DXS_STORE:-$build/store/dxs-store}
frontend_bin=${DXS_FRONTEND:-$build/frontend/dxs-frontend}
populate_bin=${HISTORY_POPULATE:-$build/tests/bench/history_populate}
bench_bin=${HISTORY_BENCH:-$build/tests/bench/history_bench}

commits=1000000
domains=100
calls=300
seconds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) commits=20000 domains=20 calls=20 seconds=0.5 ;;
    --commits) commits=$2; shift ;;
    --domains) domains=$2; shift ;;
    --calls) calls=$2; shift ;;
    *) sed -n '2,23p' "$0" >&2; exit 2 ;;
  esac
  shift
done

for f in "$store_bin" "$frontend_bin" "$populate_bin" "$bench_bin"; do
  if [ ! -x "$f" ]; then
    echo "history.sh: $f is missing (meson compile -C build bench)" >&2
    exit 1
  fi
done

tmp=$(mktemp -d "${DXS_BENCH_TMP:-/tmp}/dxs-history.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${DXS_KEEP_TMP:-0}" = 1 ]; then echo "history.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

log() { echo "history.sh: $*" >&2; }
row() { printf 'row\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4"; }

log "filling $commits commits over $domains domains"
"$populate_bin" --state-dir "$tmp/state" --commits "$commits" --domains "$domains" >"$tmp/populate.out"
read -r _ made _ fill_seconds _ head <"$tmp/populate.out"
row "history: commits made by history_populate" commits info "$made"
row "history: fill rate (the engine alone, no IPC)" commits/s higher \
  "$(awk -v n="$made" -v s="$fill_seconds" 'BEGIN { printf "%.0f", n / (s > 0 ? s : 1) }')"

"$store_bin" --state-dir "$tmp/state" --listen "unix:$tmp/store.sock" \
  --ops-listen "unix:$tmp/ops.sock" --log-level warning 2>"$tmp/store.log" &
pids+=($!)
"$frontend_bin" --no-xen --store "unix:$tmp/store.sock" --socket "$tmp/socket" \
  --log-level warning 2>"$tmp/frontend.log" &
pids+=($!)
for _ in $(seq 1 300); do
  [ -S "$tmp/socket" ] && [ -S "$tmp/ops.sock" ] && break
  sleep 0.1
done
if [ ! -S "$tmp/socket" ] || [ ! -S "$tmp/ops.sock" ]; then
  log "the pair did not start; logs in $tmp"
  DXS_KEEP_TMP=1
  exit 1
fi

# The store compacts what it flushed at open; the disk figure is taken after the
# reads, once RocksDB has settled.
"$bench_bin" --ops "unix:$tmp/ops.sock" --socket "$tmp/socket" --domains "$domains" \
  --calls "$calls" --seconds "$seconds"
disk=$(du -sb "$tmp/state" | cut -f1)
row "history: disk (state directory)" MiB lower "$(awk -v b="$disk" 'BEGIN { printf "%.1f", b / 1048576 }')"
row "history: disk per commit" bytes lower "$(awk -v b="$disk" -v n="$head" 'BEGIN { printf "%.0f", b / n }')"
