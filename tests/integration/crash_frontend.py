"""SIGKILL dxs-frontend under clients and restart it, run as systemd runs it
(tests/lib/fake_systemd.py: socket activation, the fd store): clients keep their
connections, watches and transactions; a client that connects while no frontend runs is
served once one does; every request is answered once and applied once."""

import os
import queue
import struct
import subprocess
import threading

import dxstest


class CrashFrontend(dxstest.PairTestCase):
    def setUp(self):
        self.pair = dxstest.Pair(systemd=True).start()
        self.c = self.pair.client()

    def stored_connections(self):
        self.pair.systemd.drain()
        return self.pair.systemd.count_prefix("conn-")

    def the_clients_outbox(self):
        """The pipe the fixture's client's replies pass through, as the fd store keeps it,
        opened for writing: the test plays a frontend killed with bytes in it."""
        dxstest.wait_until(lambda: self.stored_connections() == 1 and
                           self.pair.systemd.count_prefix("out-") == 1, what="one client stored")
        name = [n for n in self.pair.systemd.names() if n.startswith("out-")][0]
        fd = self.pair.systemd.fds_named(name)[0]
        return os.open("/proc/self/fd/%d" % fd, os.O_WRONLY | os.O_NONBLOCK)

    def restart_frontend(self):
        self.pair.kill_frontend()
        self.pair.start_frontend()

    def test_xenstore_watch_sees_every_write_after_a_restart(self):
        watcher = subprocess.Popen(["xenstore-watch", "/local"], env=self.pair.env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        printed = queue.Queue()
        threading.Thread(target=lambda: [printed.put(line) for line in watcher.stdout] + [printed.put(None)],
                         daemon=True).start()
        try:
            lines = []

            def next_line():
                try:
                    line = printed.get(timeout=dxstest.DEFAULT_TIMEOUT)
                except queue.Empty:
                    raise TimeoutError("xenstore-watch printed nothing more; so far %r" % lines)
                if line is None:
                    raise AssertionError("xenstore-watch exited: %r" % lines)
                lines.append(line.decode().strip())
                return lines[-1]

            self.assertEqual(next_line(), "/local")  # the watch's first event: registered
            for round_ in range(3):
                self.restart_frontend()
                expected = ["/local/r%d/k%d" % (round_, i) for i in range(10)]
                for path in expected:
                    self.pair.run(["xenstore-write", path, "v"])
                seen = set()
                while not seen.issuperset(expected):
                    seen.add(next_line())
            self.assertIsNone(watcher.poll(), "xenstore-watch exited")
        finally:
            watcher.kill()
            watcher.wait()

    def test_a_transaction_survives_a_restart_and_commits(self):
        tx = self.c.transaction_start()
        self.c.write("/t/a", "1", tx)
        self.restart_frontend()
        self.c.write("/t/b", "2", tx)
        self.assertEqual(self.c.read("/t/a", tx), b"1")
        self.c.transaction_end(tx)
        with self.pair.client() as other:
            self.assertEqual(other.read("/t/a"), b"1")
            self.assertEqual(other.read("/t/b"), b"2")

    def test_a_client_connecting_while_the_frontend_is_down_is_served_when_it_is_back(self):
        self.pair.kill_frontend()
        with self.pair.client() as late:
            late.send(dxstest.WRITE, b"/late\0yes")
            self.pair.start_frontend()
            reply = late.reply()
            self.assertEqual(reply.type, dxstest.WRITE, reply)
            self.assertEqual(late.read("/late"), b"yes")

    def test_a_client_gone_while_the_frontend_is_down_is_closed_at_the_store(self):
        with self.pair.client() as gone:
            gone.watch("/g", "tok")
            self.assertEqual(gone.event(), (b"/g", b"tok"))
            dxstest.wait_until(lambda: self.stored_connections() >= 2, what="sockets stored")
            self.pair.kill_frontend()
        self.pair.start_frontend()
        # Its socket came back at EOF: the connection is closed, and its socket is taken
        # out of the fd store; this test's own client is kept.
        dxstest.wait_until(lambda: self.stored_connections() == 1, what="the gone socket removed")
        self.c.write("/g/x", "1")
        self.assertEqual(self.c.read("/g/x"), b"1")

    def test_requests_across_many_kills_are_answered_and_applied_once(self):
        """A serial raw client creates, removes and counts nodes while the frontend is
        killed again and again: a removal applied twice would answer ENOENT, a reply lost
        or doubled would hang or mismatch, a write lost would show in the count."""
        progress = [0]
        errors = []
        stop = threading.Event()

        def writer():
            try:
                with self.pair.client() as w:
                    i = 0
                    while not stop.is_set():
                        w.write("/count/n%d" % i, "x")
                        w.rm("/count/n%d" % i)
                        w.write("/count/value", str(i + 1))
                        i += 1
                        progress[0] = i
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=writer)
        t.start()
        try:
            kills = int(os.environ.get("DXS_FRONTEND_KILLS", "25"))
            for _ in range(kills):
                mark = progress[0]
                dxstest.wait_until(lambda: progress[0] >= mark + 3 or errors, what="progress")
                self.assertEqual(errors, [])
                self.restart_frontend()
        finally:
            stop.set()
            t.join(timeout=dxstest.DEFAULT_TIMEOUT * 2)
        self.assertFalse(t.is_alive(), "the writer hung")
        self.assertEqual(errors, [])
        self.assertEqual(self.c.read("/count/value"), str(progress[0]).encode())
        self.assertEqual(self.c.directory("/count"), [b"value"])

    def test_a_reply_left_in_the_outbox_answers_its_request_once(self):
        """Killed after writing a reply into the client's outbox, before consuming its
        request: the next frontend finds the request answered there, consumes it without
        handing it to the store again, and delivers that reply, once."""
        self.c.write("/o/a", "1")
        self.pair.kill_frontend()
        req_id = self.c.send(dxstest.WRITE, b"/o/b\0two")
        outbox = self.the_clients_outbox()
        os.write(outbox, struct.pack("<IIII", dxstest.WRITE, req_id, 0, 3) + b"OK\0")
        os.close(outbox)
        self.pair.start_frontend()
        reply = self.c.reply()
        self.assertEqual((reply.type, reply.req_id, reply.payload), (dxstest.WRITE, req_id, b"OK\0"))
        # Not applied by the new frontend (the killed one would have had it applied), and
        # no second reply: the next request gets its own.
        with self.assertRaises(dxstest.XsError):
            self.c.read("/o/b")
        self.assertEqual(self.c.read("/o/a"), b"1")
        self.assertIn("1 requests answered in its outbox", open(self.pair.frontend_log).read())

    def test_what_the_outbox_held_goes_out_before_anything_new(self):
        """Killed while its outbox still held an event for the client: the event reaches
        the client before the reply to the request it sent while no frontend ran."""
        self.c.write("/o/a", "1")
        self.pair.kill_frontend()
        self.c.send(dxstest.READ, b"/o/a\0")
        outbox = self.the_clients_outbox()
        event = b"/o/a\0tok\0"
        os.write(outbox, struct.pack("<IIII", dxstest.WATCH_EVENT, 0, 0, len(event)) + event)
        os.close(outbox)
        self.pair.start_frontend()
        first = self.c.read_message()
        self.assertEqual((first.type, first.payload), (dxstest.WATCH_EVENT, event))
        second = self.c.read_message()
        self.assertEqual((second.type, second.payload), (dxstest.READ, b"1"))

    def test_store_restarts_still_work_under_a_systemd_frontend(self):
        self.c.write("/s/a", "1")
        self.pair.kill_store()
        self.pair.start_store()
        self.c.write("/s/b", "2")
        self.assertEqual(self.c.read("/s/a"), b"1")


if __name__ == "__main__":
    dxstest.main()
