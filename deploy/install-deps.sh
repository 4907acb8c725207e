#!/bin/sh
# Installs the Debian 12 packages dxs needs that are missing.
#   deploy/install-deps.sh          build and run dxs
#   deploy/install-deps.sh --tests  also what the test suite and benchmarks use
set -eu

build="meson ninja-build pkg-config g++ protobuf-compiler protobuf-compiler-grpc
  libgrpc++-dev libprotobuf-dev librocksdb-dev libssl-dev libfmt-dev libsystemd-dev libxen-dev
  libjemalloc-dev"
run="xenstore-utils git"   # the clients deploy/up.sh tells you to try; dxsctl export-git
# systemd: systemd-analyze, -sysusers, -tmpfiles (tests/integration/systemd_units.py);
# openssl, util-linux: certificates and setpriv (tests/integration/ops_auth.py).
tests="doctest-dev python3 python3-pyxs xen-utils-4.17 systemd openssl util-linux"

want="$build $run"
[ "${1:-}" = "--tests" ] && want="$build $run $tests"

missing=""
for p in $want; do
  if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "deploy/install-deps.sh: need root to install packages" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# apt's own output, errors included, goes to stderr; a failure is named on the last line.
if ! apt-get update -q >&2; then
  echo "deploy/install-deps.sh: apt-get update failed (output above)" >&2
  exit 1
fi
# shellcheck disable=SC2086
if ! apt-get install -y -q --no-install-recommends $missing >&2; then
  echo "deploy/install-deps.sh: apt-get install failed (output above):$missing" >&2
  exit 1
fi
