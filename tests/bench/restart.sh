#!/bin/bash
# restart.sh - the restart benchmark: how long after dxs-frontend or dxs-store is killed
# (SIGKILL) and started again its clients are answered again, against issue 15's targets:
#   the frontend with 1 000 guest rings and 1 000 dom0 sockets: under 100 ms;
#   the store with 1 000 000 nodes: under 1 s.
# Timed from the exec of the new daemon to the last answer to a request that every client
# sent while it was down; median of several restarts. tests/bench/restart_bench.py does
# the work (its docstring has the method), tests/bench/restart_bench the clients.
#
# usage: tests/bench/restart.sh [--smoke] [--guests G] [--sockets S] [--nodes N]
#                               [--restarts R] [--only frontend|store] [--wait-idle S]
#
#   (default)   1 000 guests, 1 000 sockets, 1 000 000 nodes, 5 restarts of each daemon:
#               about 3 minutes on 2 cores, most of it filling the tree.
#   --smoke     20 guests, 20 sockets, 10 000 nodes, 2 restarts: seconds. The test suite
#               runs it (suite 'bench'): it checks that it runs, never a timing.
#   --wait-idle S   before each part, wait up to S seconds for the machine to be at least
#               85% idle (measured over 2 s); the busy share found is printed.
#
# Output: run.sh's rows (row<TAB>LABEL<TAB>UNIT<TAB>higher|lower|info<TAB>VALUE) on stdout,
# then a summary; progress on stderr. Not a workload of run.sh: the peers, C xenstored and
# oxenstored, cannot restart without losing their state, so every row of theirs would be
# n/a, and the frontend must run under systemd's fd store (tests/lib/fake_systemd.py).
#
# Before: meson compile -C build bench   (restart_bench, libsimxen.so; needs Xen's headers)
#
# Environment: DXS_BUILD (default build/), DXS_STORE, DXS_FRONTEND, RESTART_BENCH,
# SIMXEN_LIB (default under DXS_BUILD), DXS_TEST_TMP (parent of the temporary
# directories, default /tmp), DXS_KEEP_TMP=1 (keep them: the daemons' logs).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
export DXS_BUILD=${DXS_BUILD:-$top/build}
export DXS_STORE=${DXS_STORE:-$DXS_BUILD/store/dxs-store}
export DXS_FRONTEND=${DXS_FRONTEND:-$DXS_BUILD/frontend/dxs-frontend}
export RESTART_BENCH=${RESTART_BENCH:-$DXS_BUILD/tests/bench/restart_bench}
export SIMXEN_LIB=${SIMXEN_LIB:-$DXS_BUILD/tests/simxen/libsimxen.so}
export PYTHONDONTWRITEBYTECODE=1

for f in "$DXS_STORE" "$DXS_FRONTEND" "$RESTART_BENCH" "$SIMXEN_LIB"; do
  if [ ! -e "$f" ]; then
    echo "restart.sh: $f not found; build first: meson compile -C ${DXS_BUILD#"$top"/} bench" >&2
    echo "  (restart_bench and libsimxen.so need Xen's headers, libxen-dev)" >&2
    exit 1
  fi
done

python=/usr/bin/python3
[ -x "$python" ] || python=python3
exec "$python" "$top/tests/bench/restart_bench.py" "$@"
