"""Simulated guests (tests/simguest/) over rings served by dxs: dxs-frontend --xen under
LD_PRELOAD of libsimxen.so, the production code path on a simulated hypervisor
(docs/simxen.md). The guest suite (tests/lib/guest_suite.py) is the one Debian's xenstored
and oxenstored run in guest_peers.py; the cases below it are dxs's own.
"""

import os
import unittest

import dxstest
import simguest
from guest_suite import GuestSuite


class DxsDaemon:
    """dxs-store and dxs-frontend --xen on a fresh simxen machine."""

    advertises_reconnection = True
    node_quota = 1000
    quota_error = "ENOSPC"
    unknown_tx_error = "ENOENT"

    def __init__(self, tmp, config=None):
        self.simxen_dir = os.path.join(tmp, "machine")
        os.makedirs(self.simxen_dir, exist_ok=True)
        # simxen comes before ASan's runtime in a sanitized build: tell ASan that is meant.
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = {
            "LD_PRELOAD": simguest.simxen_library(),
            "SIMXEN_DIR": self.simxen_dir,
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0",
        }
        self.pair = dxstest.Pair(frontend_args=["--xen"], frontend_env=env, config=config)
        self.pair.start()
        self.socket = self.pair.socket

    def stop(self):
        self.pair.cleanup()

    def logs(self):
        return self.pair.logs()


class Dxs(GuestSuite, unittest.TestCase):
    factory = staticmethod(lambda tmp: DxsDaemon(tmp))


if __name__ == "__main__":
    dxstest.main()
