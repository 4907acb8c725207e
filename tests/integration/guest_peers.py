"""Simulated guests (tests/simguest/, over libsimxen.so) against Debian's C xenstored and
oxenstored 4.17, each started by tests/simxen/start-peer.sh on a fresh simxen machine.

The cases are tests/lib/guest_suite.py's, which guest_rings.py runs against dxs.

Where the two peers differ, each one's behaviour is asserted; the differences:
  - RECONNECTION: oxenstored advertises XENSTORE_SERVER_FEATURE_RECONNECTION
    (server_features = 1) and honours connection = 1 (it drops the connection's watches
    and transactions, zeroes the indices, sets connection = 0). C xenstored 4.17 advertises
    nothing (server_features = 0) and leaves connection = 1 alone until dom0 introduces
    the domain again.
  - Node quota: both allow 1000 nodes per domain (the home /local/domain/N, created by
    dom0 but owned by N, counts as one), C refuses the next with ENOSPC, oxenstored with
    EQUOTA, which is not in xs_wire.h's error table (Linux guests see EINVAL).
  - Unknown transaction id: C answers ENOENT, oxenstored EIO (also for the transactions
    that a reconnection dropped).
  - Domain death: both fire @releaseDomain when VIRQ_DOM_EXC reports a domain shut down
    or gone.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

import dxstest
import simguest
from guest_suite import GuestSuite

HERE = os.path.dirname(os.path.abspath(__file__))
START_PEER = os.path.join(HERE, "..", "simxen", "start-peer.sh")
PEER_BIN = os.environ.get("XENSTORE_PEER_BIN", "/usr/lib/xen-4.17/bin")


class PeerDaemon:
    """Debian's xenstored (kind "c") or oxenstored ("ocaml") on a fresh simxen machine."""

    BEHAVIOUR = {
        "c": dict(advertises_reconnection=False, node_quota=1000, quota_error="ENOSPC",
                  unknown_tx_error="ENOENT"),
        "ocaml": dict(advertises_reconnection=True, node_quota=1000, quota_error="EQUOTA",
                      unknown_tx_error="EIO"),
    }

    def __init__(self, kind, tmp):
        daemon = os.path.join(PEER_BIN, "xenstored" if kind == "c" else "oxenstored")
        if not os.access(daemon, os.X_OK):
            raise RuntimeError("%s is missing: deploy/install-deps.sh --tests installs "
                               "xen-utils-4.17" % daemon)
        self.kind = kind
        self.__dict__.update(self.BEHAVIOUR[kind])
        self.simxen_dir = os.path.join(tmp, "machine")
        self.socket = os.path.join(tmp, "xenstored.sock")
        self.log_path = os.path.join(tmp, "daemon.log")
        env = dict(os.environ, SIMXEN_DIR=self.simxen_dir, SIMXEN_LIB=simguest.simxen_library())
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([START_PEER, kind, self.socket, os.path.join(tmp, "state")],
                                         env=env, stdout=log, stderr=subprocess.STDOUT)
        dxstest.wait_until(self._accepting, what="%s to accept on %s" % (kind, self.socket))

    def _accepting(self):
        if self.proc.poll() is not None:
            raise RuntimeError("%s exited with %s:\n%s" % (self.kind, self.proc.returncode,
                                                            self.logs()))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.socket)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logs(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def peer_factory(kind):
    return lambda tmp: PeerDaemon(kind, tmp)


class CXenstored(GuestSuite, unittest.TestCase):
    factory = staticmethod(peer_factory("c"))


class OXenstored(GuestSuite, unittest.TestCase):
    factory = staticmethod(peer_factory("ocaml"))


if __name__ == "__main__":
    dxstest.main()
