"""The guest suite: simulated guests (tests/simguest/, over libsimxen.so) against any
Xenstore daemon that serves rings through Xen's libraries: dxs (tests/integration/
guest_rings.py) and Debian's C xenstored and oxenstored (guest_peers.py).

A test class mixes GuestSuite into unittest.TestCase and sets `factory`: a callable taking
a temporary directory and returning a started daemon with .simxen_dir, .socket, .stop(),
.logs() and the behaviour attributes where daemons differ (docs/deviations.md):
  advertises_reconnection  whether server_features has XENSTORE_SERVER_FEATURE_RECONNECTION
  node_quota               nodes a domain may own
  quota_error              the error name of a refused node
  unknown_tx_error         the error name of an unknown transaction id
"""

import os
import shutil
import tempfile

import dxstest
import simguest


class GuestSuite:
    """The cases; a subclass sets factory."""

    factory = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dxs-guest-", dir=os.environ.get("DXS_TEST_TMP", "/tmp"))
        self.daemon = None
        self.guests = []
        self.daemon = self.factory(self.tmp)
        self.dom0 = dxstest.XsClient(self.daemon.socket)

    def tearDown(self):
        for g in self.guests:
            g.close()
        if self.daemon is not None:
            self.dom0.close()
            self.daemon.stop()
            if self._failed():
                print(self.daemon.logs())
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return result is not None and any(
            t is self for t, _ in result.failures + result.errors)

    # -- helpers -----------------------------------------------------------------
    def home(self, domid):
        return "/local/domain/%d" % domid

    def new_guest(self, domid, introduce=True, dom0=None):
        """A created guest whose home dom0 made (owned by the guest, as xl does) and,
        unless told otherwise, introduced."""
        g = simguest.SimGuest(self.daemon.simxen_dir, self.daemon.socket, domid, port=domid + 100)
        self.guests.append(g)
        g.create()
        self.make_home(domid, dom0)
        if introduce:
            g.introduce()
        return g

    def make_home(self, domid, dom0=None):
        c = dom0 or self.dom0
        c.mkdir(self.home(domid))
        c.set_perms(self.home(domid), ["n%d" % domid])

    def watch_release(self):
        self.dom0.watch("@releaseDomain", "rel")
        self.assertEqual(self.dom0.event(), (b"@releaseDomain", b"rel"))

    # -- cases -------------------------------------------------------------------
    def test_relative_paths_under_home(self):
        g = self.new_guest(5)
        self.assertEqual(g.domain_path(), "/local/domain/5")
        g.write("name", "vm five")
        self.assertEqual(g.read("name"), "vm five")
        self.assertEqual(g.read("/local/domain/5/name"), "vm five")
        self.assertEqual(self.dom0.read("/local/domain/5/name"), b"vm five")
        g.mkdir("device/vif")
        self.assertEqual(sorted(g.directory("/local/domain/5")), ["device", "name"])
        self.assertEqual(g.get_perms("name"), ["n5"])
        g.rm("device")
        self.assertEqual(g.directory("/local/domain/5"), ["name"])

    def test_other_domains_node_refused(self):
        g = self.new_guest(5)
        self.new_guest(6, introduce=False)
        self.dom0.write("/local/domain/6/secret", "x")
        self.dom0.set_perms("/local/domain/6/secret", ["n6"])
        for op in (lambda: g.read("/local/domain/6/secret"),
                   lambda: g.write("/local/domain/6/secret", "y"),
                   lambda: g.write("/local/domain/6/new", "y")):
            with self.assertRaises(simguest.GuestError) as e:
                op()
            self.assertEqual(e.exception.name, "EACCES")

    def test_watch_event_over_ring(self):
        g = self.new_guest(5)
        g.watch("data", "tok")
        self.assertEqual(g.event(), ("data", "tok"))  # the initial event
        self.dom0.write("/local/domain/5/data/x", "1")
        self.assertEqual(g.event(), ("data/x", "tok"))
        g.watch("/local/domain/5/abs", "t2")
        self.assertEqual(g.event(), ("/local/domain/5/abs", "t2"))
        g.write("abs", "v")
        self.assertEqual(g.event(), ("/local/domain/5/abs", "t2"))
        self.assertIsNone(g.event(timeout=0.2))

    def test_transaction_over_ring(self):
        g = self.new_guest(5)
        tx = g.transaction_start()
        g.write("t", "in-tx", tx=tx)
        with self.assertRaises(simguest.GuestError) as e:
            g.read("t")
        self.assertEqual(e.exception.name, "ENOENT")
        g.transaction_end(tx)
        self.assertEqual(g.read("t"), "in-tx")

    def test_node_quota(self):
        g = self.new_guest(5)
        # In directories of 50, so that no directory's record reaches C's 2048-byte node-size
        # quota first. Nodes owned by 5: its home, each directory, each leaf.
        owned = 1
        with self.assertRaises(simguest.GuestError) as e:
            for d in range(self.daemon.node_quota // 50 + 1):
                try:
                    g.bench_write(50, "q%d/#" % d)
                    owned += 51
                except simguest.GuestError as err:
                    done = int(err.detail.split()[-1])
                    owned += done + (1 if done else 0)
                    raise
        self.assertEqual(e.exception.name, self.daemon.quota_error)
        self.assertEqual(owned, self.daemon.node_quota)
        g.rm("q0")
        g.write("again", "fits")

    def test_unknown_transaction(self):
        g = self.new_guest(5)
        with self.assertRaises(simguest.GuestError) as e:
            g.read("/local/domain/5", tx=99)
        self.assertEqual(e.exception.name, self.daemon.unknown_tx_error)

    def test_release_fires_release_domain(self):
        g = self.new_guest(5)
        self.watch_release()
        g.release()
        self.assertEqual(self.dom0.event(), (b"@releaseDomain", b"rel"))
        self.assertEqual(self.dom0.request(dxstest.IS_DOMAIN_INTRODUCED, b"5\0").payload, b"F\0")

    def test_death_fires_release_domain(self):
        g = self.new_guest(5)
        self.watch_release()
        g.die()
        self.assertEqual(self.dom0.event(), (b"@releaseDomain", b"rel"))
        self.assertEqual(self.dom0.request(dxstest.IS_DOMAIN_INTRODUCED, b"5\0").payload, b"F\0")

    def test_shutdown_fires_release_domain(self):
        g = self.new_guest(5)
        self.watch_release()
        g.shutdown()
        self.assertEqual(self.dom0.event(), (b"@releaseDomain", b"rel"))

    def test_reconnection(self):
        g = self.new_guest(5)
        g.watch("w", "tok")
        self.assertEqual(g.event(), ("w", "tok"))
        advertised = g.features() & 1
        self.assertEqual(bool(advertised), self.daemon.advertises_reconnection)
        if advertised:
            tx = g.transaction_start()
            g.reset()  # would fail with EEXIST re-registering if the server kept the watch
            self.assertEqual(g.event(), ("w", "tok"))
            with self.assertRaises(simguest.GuestError) as e:
                g.read("w", tx=tx)
            # The transaction went with the old connection.
            self.assertEqual(e.exception.name, self.daemon.unknown_tx_error)
            g.write("w", "after")
            self.assertEqual(g.event(), ("w", "tok"))
        else:
            with self.assertRaises(simguest.GuestError) as e:
                g.reset()
            self.assertEqual(e.exception.name, "ENOTSUP")
            self.assertEqual(g.indices()["connection"], 0)
            g.write("w", "still")
            self.assertEqual(g.event(), ("w", "tok"))

    def test_hundred_guests(self):
        guests = []
        for d in range(1, 101):
            g = simguest.SimGuest(self.daemon.simxen_dir, self.daemon.socket, d, port=7, timeout=30)
            self.guests.append(g)
            guests.append(g)
            g.send("create")
        for g in guests:
            self.assertEqual(g.result(), "OK")
            self.make_home(g.domid)
        for g in guests:
            g.send("introduce")
        for g in guests:
            self.assertEqual(g.result(), "OK OK")
        for step in ("write name vm#", "read name", "mkdir device", "dir ."):
            for g in guests:
                g.send(step.replace("#", str(g.domid)).replace("dir .", "dir /local/domain/%d" % g.domid))
            for g in guests:
                r = g.result()
                if step.startswith("read"):
                    self.assertEqual(r, "OK vm%d" % g.domid)
                elif step.startswith("dir"):
                    self.assertEqual(sorted(r[3:].split()), ["device", "name"])
                else:
                    self.assertEqual(r, "OK OK")
        names = self.dom0.directory("/local/domain")
        self.assertEqual(len(names), 100)
