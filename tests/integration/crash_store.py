"""SIGKILL dxs-store in the middle of a workload, restart it, and find every write that
was acknowledged."""

import threading

import dxstest


class CrashStore(dxstest.PairTestCase):
    def test_acknowledged_writes_survive_sigkill(self):
        acknowledged = []
        errors = []
        stop = threading.Event()

        def writer():
            try:
                with self.pair.client() as c:
                    i = 0
                    while not stop.is_set() or i < 200:
                        c.write("/crash/k%d" % i, "v%d" % i)
                        acknowledged.append(i)
                        i += 1
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=writer)
        t.start()
        # Kill once a good number of writes has been acknowledged (an event, not a timer).
        dxstest.wait_until(lambda: len(acknowledged) >= 100, what="100 acknowledged writes")
        self.pair.kill_store()
        self.pair.start_store()
        stop.set()
        t.join(timeout=dxstest.DEFAULT_TIMEOUT * 3)
        self.assertFalse(t.is_alive(), "writer hung across the store restart")
        self.assertEqual(errors, [], "a client saw an error across the store restart")
        with self.pair.client() as c:
            for i in acknowledged:
                self.assertEqual(c.read("/crash/k%d" % i), b"v%d" % i)


if __name__ == "__main__":
    dxstest.main()
