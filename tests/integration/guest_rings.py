"""Simulated guests (tests/simguest/) over rings served by dxs: dxs-frontend --xen under
LD_PRELOAD of libsimxen.so, the production code path on a simulated hypervisor
(docs/simxen.md). The guest suite (tests/lib/guest_suite.py) is the one Debian's xenstored
and oxenstored run in guest_peers.py; the cases below it are dxs's own.
"""

import mmap
import os
import struct
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


# ring_page.h's error field values (xs_wire.h).
ERROR_RINGIDX, ERROR_PROTO = 2, 3
WRITE = 11


def header(type_, req_id, length, tx_id=0):
    return struct.pack("<IIII", type_, req_id, tx_id, length)


def write_quietly(simxen_dir, domid, data):
    """Puts request bytes into a guest's ring and publishes req_prod, with no notification
    (the page is the simxen machine's file; x86 keeps the stores in order)."""
    with open(os.path.join(simxen_dir, "ring", str(domid)), "r+b") as f:
        page = mmap.mmap(f.fileno(), 4096)
        try:
            req_cons, req_prod = struct.unpack_from("<II", page, 2048)
            assert req_prod - req_cons + len(data) <= 1024
            for i, b in enumerate(data):
                page[(req_prod + i) % 1024] = b
            struct.pack_into("<I", page, 2052, (req_prod + len(data)) & 0xFFFFFFFF)
        finally:
            page.close()


class HostileRings(GuestSuite, unittest.TestCase):
    """A hostile guest gets the ring's error field or the protocol's error, and the other
    guests are served meanwhile; never a crash or a hang of anyone else."""

    # Lost notifications are found by the rescan; short here so the test is quick.
    factory = staticmethod(lambda tmp: DxsDaemon(tmp, config="frontend.ring-rescan-ms = 100\n"))

    def setUp(self):
        super().setUp()
        self.bystander = self.new_guest(9)

    def assert_others_served(self):
        """The bystander guest and a dom0 client are answered."""
        self.bystander.write("alive", "yes")
        self.assertEqual(self.bystander.read("alive"), "yes")
        self.assertEqual(self.dom0.read("/local/domain/9/alive"), b"yes")

    def wait_error(self, g, code):
        dxstest.wait_until(lambda: g.indices()["error"] == code,
                           what="the ring's error field to be %d" % code)

    def test_header_promising_4_gib(self):
        g = self.new_guest(5)
        g.put_bytes(header(WRITE, 1, 0xFFFFFFFF))
        self.wait_error(g, ERROR_PROTO)
        self.assert_others_served()

    def test_payload_over_4096(self):
        g = self.new_guest(5)
        g.put_bytes(header(WRITE, 1, 4097))
        self.wait_error(g, ERROR_PROTO)
        self.assert_others_served()

    def test_req_prod_beyond_the_ring(self):
        g = self.new_guest(5)
        i = g.indices()
        g.poke("req_prod", (i["req_cons"] + 1025) & 0xFFFFFFFF)
        g.notify()
        self.wait_error(g, ERROR_RINGIDX)
        self.assert_others_served()

    def test_req_prod_moved_backwards(self):
        g = self.new_guest(5)
        g.write("x", "1")  # the indices move on from 0
        g.put_bytes(header(WRITE, 2, 100)[:10])  # a partial message the server reads
        i = g.indices()
        g.poke("req_prod", (i["req_prod"] - 2000) & 0xFFFFFFFF)
        g.notify()
        self.wait_error(g, ERROR_RINGIDX)
        self.assert_others_served()

    def test_rsp_cons_past_rsp_prod(self):
        g = self.new_guest(5)
        g.write("x", "1")
        i = g.indices()
        g.poke("rsp_cons", (i["rsp_prod"] + 5000) & 0xFFFFFFFF)
        # A reply to write makes the server look at rsp_cons.
        g.put_bytes(header(2, 7, 4) + b"/x\0\0"[:4])
        self.wait_error(g, ERROR_RINGIDX)
        self.assert_others_served()

    def test_one_byte_trickle(self):
        g = self.new_guest(5)
        payload = b"/local/domain/5/trickle\0slowly"
        message = header(WRITE, 77, len(payload)) + payload
        for b in message:
            self.assertEqual(g.put_bytes(bytes([b])), 1)
        dxstest.wait_until(lambda: self._read_or_none("/local/domain/5/trickle") == b"slowly",
                           what="the trickled write to be applied")
        self.assertEqual(g.indices()["error"], 0)
        self.assert_others_served()

    def _read_or_none(self, path):
        try:
            return self.dom0.read(path)
        except dxstest.XsError:
            return None

    def test_guest_that_never_notifies(self):
        g = self.new_guest(5)
        payload = b"/local/domain/5/quiet\0unannounced"
        i = g.indices()
        write_quietly(self.daemon.simxen_dir, 5, header(WRITE, 78, len(payload)) + payload)
        # Even so: dxs also rescans rings, so a lost notification costs a delay only.
        dxstest.wait_until(lambda: self._read_or_none("/local/domain/5/quiet") == b"unannounced",
                           what="the rescan to find the request")
        self.assertGreater(g.indices()["req_cons"], i["req_cons"])

    def test_guest_that_notifies_in_a_loop(self):
        g = self.new_guest(5)
        for _ in range(2000):
            g.send("notify")
        self.assert_others_served()
        for _ in range(2000):
            self.assertEqual(g.result(), "OK")
        g.write("fine", "still")
        self.assertEqual(g.read("fine"), "still")

    def test_guest_that_never_reads(self):
        g = self.new_guest(5)
        g.watch("w", "tok")
        self.assertEqual(g.event(), ("w", "tok"))
        # The guest stops reading (the CLI reads only while a command runs); dom0 fires
        # thousands of its events, more than the ring, the frontend's window and the
        # store's per-connection quota of undelivered events hold.
        for i in range(3000):
            self.dom0.write("/local/domain/5/w", str(i))
        self.assert_others_served()
        # The guest reads again: it is served, with at most the quota's worth of events.
        g.write("w2", "later")
        self.assertEqual(g.read("w2"), "later")

    def test_connection_field_set_mid_message(self):
        g = self.new_guest(5)
        g.watch("w", "tok")
        self.assertEqual(g.event(), ("w", "tok"))
        g.put_bytes(header(WRITE, 3, 50)[:9])  # half a header
        g.poke("connection", 1)
        g.notify()
        dxstest.wait_until(lambda: g.indices()["connection"] == 0,
                           what="the server to reset the ring")
        i = g.indices()
        self.assertEqual((i["req_cons"], i["req_prod"], i["rsp_cons"], i["rsp_prod"]), (0, 0, 0, 0))
        self.assertEqual(i["error"], 0)
        # The reset dropped the watch: registering it again is no EEXIST.
        g.send("raw WATCH w\\0tok\\0")
        self.assertEqual(g.result(), "OK OK\\0")
        self.assert_others_served()

    def test_reconnect_after_an_error(self):
        g = self.new_guest(5)
        g.put_bytes(header(WRITE, 1, 0xFFFFFFFF))
        self.wait_error(g, ERROR_PROTO)
        g.reset()
        self.assertEqual(g.indices()["error"], 0)
        g.write("back", "again")
        self.assertEqual(g.read("back"), "again")


if __name__ == "__main__":
    dxstest.main()
