"""An idle dxs-frontend sleeps without a periodic wake-up (docs/design.md, "The request
path": the idle sleep), and still: a watch event caused through the Ops API reaches a
socket watcher, a new client and a client that was there all along are served, each
time it has gone back to sleep, and SIGTERM stops it.

The tests wait for the frontend's debug line saying it sleeps, logged after whatever
the test last had it do: the loop is one thread, so a line written after the test got
its reply comes from an idle spell that began after that reply.
"""

import os
import signal

import dxstest
from dxstest import GET_DOMAIN_PATH

ASLEEP = "sleeping until a client, a guest or the store has something"
CONFIG = "frontend.sleep-after-ms = 20\nlog.level = debug\n"


class IdleFrontend(dxstest.PairTestCase):
    pair_config = CONFIG

    def log_size(self):
        return os.path.getsize(self.pair.frontend_log)

    def wait_asleep(self, since):
        """Until the frontend logs that it sleeps, after byte `since` of its log."""
        def asleep():
            with open(self.pair.frontend_log, errors="replace") as f:
                f.seek(since)
                return ASLEEP in f.read()
        dxstest.wait_until(asleep, what="the frontend to sleep")

    def test_ops_api_watch_event_reaches_a_watcher_of_a_sleeping_frontend(self):
        with self.pair.client() as w:
            w.watch("/local/watched", "tok")
            self.assertEqual(w.event(), (b"/local/watched", b"tok"))  # a watch's first event
            for value in ("one", "two"):
                self.wait_asleep(self.log_size())
                # The store, not a client, has something for the frontend.
                self.pair.dxsctl("write", "/local/watched", value)
                self.assertEqual(w.event(), (b"/local/watched", b"tok"))
                self.assertEqual(w.read("/local/watched"), value.encode())

    def test_clients_new_and_old_are_served_by_a_sleeping_frontend(self):
        old = self.c  # connected before the first sleep
        old.write("/local/old", "before")
        for round_ in range(3):
            # A client that was connected all along: its socket is edge-triggered.
            self.wait_asleep(self.log_size())
            old.write("/local/old", "round %d" % round_)
            # A client that connects while it sleeps.
            self.wait_asleep(self.log_size())
            with self.pair.client() as new:
                self.assertEqual(new.read("/local/old"), b"round %d" % round_)
                self.assertEqual(new.request(GET_DOMAIN_PATH, b"0\0").type, GET_DOMAIN_PATH)

    def test_sigterm_stops_a_sleeping_frontend(self):
        self.c.write("/local/x", "y")
        self.wait_asleep(self.log_size())
        self.pair.kill_frontend(signal.SIGTERM)  # waits for it to exit, with a bound
        self.assertEqual(self.pair.frontend.returncode, 0)
        with open(self.pair.frontend_log, errors="replace") as f:
            self.assertIn("stopped", f.read())


if __name__ == "__main__":
    dxstest.main()
