"""Simulated guests (tests/simguest/) over rings served by dxs: dxs-frontend --xen under
LD_PRELOAD of libsimxen.so, the production code path on a simulated hypervisor
(docs/simxen.md). The guest suite (tests/lib/guest_suite.py) is the one Debian's xenstored
and oxenstored run in guest_peers.py; the cases below it are dxs's own.
"""

import mmap
import os
import threading
import struct
import tempfile
import unittest

import dxstest
import simguest
from guest_suite import GuestSuite


def ring_mapped(daemon, domid):
    """Whether dxs-frontend has domid's ring page mapped (on simxen, a file)."""
    ring = os.path.realpath(os.path.join(daemon.simxen_dir, "ring", str(domid)))
    with open("/proc/%d/maps" % daemon.pair.frontend.pid) as f:
        return any(line.rstrip().endswith(ring) for line in f)


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
        # The request leaves the ring once its reply is in it, a moment after it applied.
        dxstest.wait_until(lambda: g.indices()["req_cons"] != i["req_cons"],
                           what="the request to be consumed")

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

    def test_broken_ring_unmapped_when_its_domain_dies(self):
        g = self.new_guest(5)
        g.put_bytes(header(WRITE, 1, 0xFFFFFFFF))
        self.wait_error(g, ERROR_PROTO)
        self.assertTrue(ring_mapped(self.daemon, 5))  # kept, so that the guest can reset it
        g.die()
        dxstest.wait_until(lambda: not ring_mapped(self.daemon, 5),
                           what="the broken ring of a dead domain to be unmapped")
        self.assert_others_served()

    def test_reconnect_after_an_error(self):
        g = self.new_guest(5)
        g.put_bytes(header(WRITE, 1, 0xFFFFFFFF))
        self.wait_error(g, ERROR_PROTO)
        g.reset()
        self.assertEqual(g.indices()["error"], 0)
        g.write("back", "again")
        self.assertEqual(g.read("back"), "again")



class RingLifecycle(unittest.TestCase):
    """What only dxs does: ring features chosen by SET_FEATURE, and guests that keep their
    rings while dxs-frontend is killed and started again."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dxs-guest-", dir=os.environ.get("DXS_TEST_TMP", "/tmp"))
        self.daemon = DxsDaemon(self.tmp)
        self.pair = self.daemon.pair
        self.dom0 = dxstest.XsClient(self.daemon.socket)
        self.guests = []

    def tearDown(self):
        for g in self.guests:
            g.close()
        self.dom0.close()
        if self._failed():
            print(self.daemon.logs())
        self.daemon.stop()

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return result is not None and any(t is self for t, _ in result.failures + result.errors)

    def guest(self, domid, introduce=True):
        g = simguest.SimGuest(self.daemon.simxen_dir, self.daemon.socket, domid, port=domid + 100)
        self.guests.append(g)
        g.create()
        home = "/local/domain/%d" % domid
        self.dom0.mkdir(home)
        self.dom0.set_perms(home, ["n%d" % domid])
        if introduce:
            g.introduce()
        return g

    def restart_frontend(self):
        self.dom0.close()
        self.pair.kill_frontend()
        self.pair.start_frontend()
        self.dom0 = dxstest.XsClient(self.daemon.socket)

    def test_set_feature_chooses_what_the_ring_offers(self):
        g = self.guest(5, introduce=False)
        self.assertEqual(self.dom0.request(24, b"5\0002\0").payload, b"OK\0")  # SET_FEATURE
        g.introduce()
        self.assertEqual(g.features(), 2)  # ERROR, not RECONNECTION
        self.assertEqual(self.dom0.request(23, b"5\0").payload, b"2\0")  # GET_FEATURE
        # Without RECONNECTION a guest's connection = 1 resets nothing: it is still
        # served, with its watch.
        g.watch("w", "tok")
        self.assertEqual(g.event(), ("w", "tok"))
        g.poke("connection", 1)
        g.notify()
        g.write("w", "served")
        self.assertEqual(g.event(), ("w", "tok"))
        self.assertEqual(g.indices()["connection"], 1)
        # Too late now.
        self.assertEqual(self.dom0.request(24, b"5\0003\0").payload, b"EBUSY\0")

    def test_guests_keep_their_rings_across_a_frontend_restart(self):
        g = self.guest(5)
        g.write("before", "1")
        g.watch("w", "tok")
        self.assertEqual(g.event(), ("w", "tok"))
        self.restart_frontend()
        # The store still has the ring connection; the new frontend serves it again.
        self.assertEqual(g.read("before"), "1")
        g.write("after", "2")
        self.assertEqual(self.dom0.read("/local/domain/5/after"), b"2")
        # The watch was never registered again, and still fires.
        self.dom0.write("/local/domain/5/w", "x")
        self.assertEqual(g.event(), ("w", "tok"))

    def test_requests_across_many_frontend_kills_are_answered_and_applied_once(self):
        """A guest watches, unwatches and counts while the frontend is killed again and
        again: a watch applied twice would answer EEXIST, an unwatch ENOENT, a reply lost
        or doubled in the ring would hang or mismatch, a write lost would show in the
        count."""
        g = self.guest(5)
        progress = [0]
        errors = []
        stop = threading.Event()

        def work():
            try:
                i = 0
                while not stop.is_set():
                    g.churn(i, 20, "count")
                    i += 20
                    progress[0] = i
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=work)
        t.start()
        try:
            for _ in range(int(os.environ.get("DXS_FRONTEND_KILLS", "25"))):
                mark = progress[0]
                dxstest.wait_until(lambda: progress[0] > mark or errors, what="progress")
                self.assertEqual(errors, [])
                self.restart_frontend()
        finally:
            stop.set()
            t.join(timeout=dxstest.DEFAULT_TIMEOUT * 2)
        self.assertFalse(t.is_alive(), "the guest hung")
        self.assertEqual(errors, [])
        self.assertEqual(self.dom0.read("/local/domain/5/count/value"), str(progress[0]).encode())

    def test_release_and_death_unmap_the_ring(self):
        g5 = self.guest(5)
        g6 = self.guest(6)
        self.assertTrue(ring_mapped(self.daemon, 5) and ring_mapped(self.daemon, 6))
        g5.release()
        dxstest.wait_until(lambda: not ring_mapped(self.daemon, 5), what="RELEASE to unmap")
        g6.die()
        dxstest.wait_until(lambda: not ring_mapped(self.daemon, 6), what="death to unmap")

    def test_death_while_the_frontend_is_away_is_found_at_start(self):
        g = self.guest(5)
        g.write("x", "1")
        self.dom0.close()
        self.pair.kill_frontend()
        g.die()  # its VIRQ_DOM_EXC reaches nobody
        self.pair.start_frontend()
        self.dom0 = dxstest.XsClient(self.daemon.socket)
        dxstest.wait_until(
            lambda: self.dom0.request(dxstest.IS_DOMAIN_INTRODUCED, b"5\0").payload == b"F\0",
            what="the store to learn of the death from the new frontend's domain scan")
        with self.assertRaises(dxstest.XsError):
            self.dom0.read("/local/domain/5/x")


ASLEEP = "sleeping until a client, a guest or the store has something"


class SleepingFrontend(unittest.TestCase):
    """An idle dxs-frontend sleeps without a periodic wake-up (tests/integration/idle.py
    for its sockets): a guest's notification, its domain's death, a watch event the store
    sends and the ring rescan's timer still reach it."""

    CONFIG = "frontend.sleep-after-ms = 20\nfrontend.ring-rescan-ms = 100\nlog.level = debug\n"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dxs-guest-", dir=os.environ.get("DXS_TEST_TMP", "/tmp"))
        self.daemon = DxsDaemon(self.tmp, config=self.CONFIG)
        self.pair = self.daemon.pair
        self.dom0 = dxstest.XsClient(self.daemon.socket)
        self.guests = []

    tearDown = RingLifecycle.tearDown
    _failed = RingLifecycle._failed
    guest = RingLifecycle.guest

    def wait_asleep(self):
        """Until the frontend logs that it sleeps, after what the test had it do so far
        (its one thread logs that before it serves anything that comes after)."""
        since = os.path.getsize(self.pair.frontend_log)

        def asleep():
            with open(self.pair.frontend_log, errors="replace") as f:
                f.seek(since)
                return ASLEEP in f.read()
        dxstest.wait_until(asleep, what="the frontend to sleep")

    def test_a_guest_and_the_store_wake_it(self):
        g = self.guest(5)
        g.write("x", "1")
        for value in ("2", "3"):
            self.wait_asleep()
            g.write("x", value)  # the guest's notification on its event channel
            self.assertEqual(g.read("x"), value)
        g.watch("/local/domain/5/w", "tok")
        self.assertEqual(g.event(), ("/local/domain/5/w", "tok"))  # a watch's first event
        self.wait_asleep()
        self.pair.dxsctl("write", "/local/domain/5/w", "from the store")
        self.assertEqual(g.event(), ("/local/domain/5/w", "tok"))

    def test_the_rescan_timer_finds_an_unannounced_request(self):
        g = self.guest(5)
        g.write("x", "1")
        self.wait_asleep()
        i = g.indices()
        payload = b"/local/domain/5/quiet\0unannounced"
        write_quietly(self.daemon.simxen_dir, 5, header(WRITE, 78, len(payload)) + payload)
        # Watched on the page itself: a dom0 request would wake the frontend for it.
        dxstest.wait_until(lambda: g.indices()["req_cons"] != i["req_cons"],
                           what="the rescan to find and answer the request")
        self.assertEqual(self.dom0.read("/local/domain/5/quiet"), b"unannounced")

    def test_a_death_wakes_it(self):
        g = self.guest(5)
        g.write("x", "1")
        self.wait_asleep()
        g.die()  # VIRQ_DOM_EXC
        dxstest.wait_until(lambda: not ring_mapped(self.daemon, 5), what="death to unmap")


if __name__ == "__main__":
    dxstest.main()
