"""SIGKILL dxs-store in the middle of a workload, restart it, and find every write that
was acknowledged."""

import collections
import json
import os
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

    def test_pipelined_reads_answer_as_first_sent_across_sigkill(self):
        """A client pipelines WRITE k=v<i>, READ k, WRITE k=v<i+1>, READ k, ... 32 deep while
        the store is killed and restarted. Every request is answered once, in order, and
        every read answers the value of the write just before it, wherever the kill fell.
        (A read applied but not answered before the kill is answered again as of the
        commit before the connection's next write; tests/unit/engine_replay_test.cc hits
        that case every time, a kill here only sometimes.)"""
        pairs = 3000
        with self.pair.client() as c:
            c.write("/crash/seq", "start")
            pending = collections.deque()  # (req_id, expected value of a read or None)
            sent = answered = 0
            killed = False
            while answered < 2 * pairs:
                while sent < pairs and len(pending) < 32:
                    value = b"v%d" % sent
                    pending.append((c.send(dxstest.WRITE, b"/crash/seq\0" + value), None))
                    pending.append((c.send(dxstest.READ, b"/crash/seq\0"), value))
                    sent += 1
                m = c.reply()
                req_id, expected = pending.popleft()
                self.assertEqual(m.req_id, req_id, "replies out of order")
                self.assertNotEqual(m.type, dxstest.ERROR, "error %r for request %d" % (m.error, req_id))
                if expected is not None:
                    self.assertEqual(m.payload, expected, "read %d" % req_id)
                answered += 1
                if not killed and answered >= pairs:
                    self.pair.kill_store()
                    self.pair.start_store()
                    killed = True
            self.assertEqual(c.read("/crash/seq"), b"v%d" % (pairs - 1))

    def test_watch_events_survive_sigkill(self):
        """Two watchers on /crash/w, one reading as events come and one not until the end,
        while a writer makes 400 writes (a batch each, far more than the event log
        keeps) and the store is killed after the 200th. Each watcher gets every write's
        event, the first of each in write order (after a store restart an event whose
        acknowledgement was lost comes again: socket events are at least once)."""
        writes = 400
        expected = [b"/crash/w/k%d" % i for i in range(writes)]

        def firsts(client, token, count, seen):
            while len(seen) < count:
                path, got = client.event()
                self.assertEqual(got, token)
                if path in expected and path not in seen:
                    seen.append(path)
            return seen

        with self.pair.client() as reader, self.pair.client() as idle, self.pair.client() as w:
            reader.watch("/crash/w", "r")
            idle.watch("/crash/w", "i")
            self.assertEqual(reader.event(), (b"/crash/w", b"r"))
            seen = []
            for i in range(writes):
                w.write("/crash/w/k%d" % i, "v")
                if i == writes // 2:
                    firsts(reader, b"r", i + 1, seen)
                    self.pair.kill_store()
                    self.pair.start_store()
            self.assertEqual(firsts(reader, b"r", writes, seen), expected)
            self.assertEqual(firsts(idle, b"i", writes, []), expected)

    def test_a_frontend_started_before_its_store_serves_once_the_store_listens(self):
        """The frontend connects to the store itself: with no store yet it keeps trying
        (saying so once), and a client's write sent meanwhile is answered once the store
        listens."""
        self.c.close()
        self.pair.kill_frontend()
        self.pair.kill_store()
        self.pair.start_frontend(wait=False)

        def said_unreachable():
            with open(self.pair.frontend_log) as f:
                return f.read().count("store not reachable")

        dxstest.wait_until(lambda: said_unreachable() >= 1, what="the frontend to find no store")
        dxstest.wait_until(lambda: os.path.exists(self.pair.socket), what="the frontend to listen")
        answered = []
        errors = []

        def writer():
            try:
                with self.pair.client() as c:
                    c.write("/early/k", "v")
                    answered.append(True)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=writer)
        t.start()
        self.pair.start_store()
        t.join(timeout=dxstest.DEFAULT_TIMEOUT)
        self.assertFalse(t.is_alive(), "the write hung after the store started")
        self.assertEqual(errors, [])
        self.assertEqual(answered, [True])
        self.c = self.pair.client()
        self.assertEqual(self.c.read("/early/k"), b"v")
        self.assertEqual(said_unreachable(), 1, "the retries are not logged one by one")

    def test_an_open_transaction_survives_sigkill_and_commits_as_it_would_have(self):
        """A transaction's private view lives in the store's memory and its log in one
        record: after a SIGKILL the view is rebuilt from the log, reads in it answer as
        before, and its commit merges the same writes, a branch and a merge in history."""
        with self.pair.client() as c, self.pair.client() as other:
            c.write("/ct/old", "o")
            c.write("/ct/gone/below", "g")
            c.write("/ct/shared/pre", "p")
            tx = c.transaction_start()
            for i in range(5):
                c.write("/ct/shared/k%d" % i, "v%d" % i, tx)
            c.rm("/ct/gone", tx)
            c.write("/ct/old", "new", tx)
            listing = c.directory("/ct", tx)
            self.pair.kill_store()
            self.pair.start_store()
            # Another client adds under the same parent meanwhile: it merges.
            other.write("/ct/shared/theirs", "t")
            self.assertEqual(c.directory("/ct", tx), listing)
            self.assertEqual(c.read("/ct/shared/k3", tx), b"v3")
            self.assertEqual(c.read("/ct/old", tx), b"new")
            c.write("/ct/shared/k5", "v5", tx)
            c.transaction_end(tx)
            self.assertEqual(
                sorted(other.directory("/ct/shared")), sorted([b"k%d" % i for i in range(6)] + [b"pre", b"theirs"])
            )
            self.assertEqual(other.read("/ct/old"), b"new")
        merge = json.loads(self.pair.dxsctl("--json", "show", "HEAD").stdout)
        self.assertEqual(merge["summary"], "dom0: merge transaction %d (8 writes)" % tx)
        self.assertEqual(len(merge["parents"]), 2)
        changed = {ch["path"]: ch["kind"] for ch in merge["changes"]}
        for i in range(6):
            self.assertEqual(changed["/ct/shared/k%d" % i], "CREATED")
        self.assertEqual(changed["/ct/gone"], "DELETED")
        self.assertEqual(changed["/ct/old"], "MODIFIED")
        branch = json.loads(self.pair.dxsctl("--json", "show", str(merge["parents"][1])).stdout)
        self.assertEqual(branch["summary"], "dom0: transaction %d (8 writes)" % tx)
        self.assertIn("/ct/shared/k0", {ch["path"] for ch in branch["changes"]})


if __name__ == "__main__":
    dxstest.main()
