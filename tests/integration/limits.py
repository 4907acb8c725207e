"""Clients that misbehave under load must not hold up the others or make the daemons
buffer without bound: one that floods requests without reading replies, one that stops
reading while events pile up, one that holds hundreds of transactions open."""

import socket
import struct
import threading

import dxstest
from dxstest import HEADER, WRITE


def write_request(i, req_id):
    payload = b"/flood/k%d\0value-%d" % (i % 50, i)
    return HEADER.pack(WRITE, req_id, 0, len(payload)) + payload


class Limits(dxstest.PairTestCase):
    def fill_until_blocked(self, sock, limit=200000):
        """Sends write requests on a non-blocking socket until the kernel refuses more:
        proof that the frontend has stopped reading this client. Returns how many."""
        sock.setblocking(False)
        sent = 0
        pending = b""
        try:
            while sent < limit:
                if not pending:
                    pending = write_request(sent, sent + 1)
                n = sock.send(pending)
                pending = pending[n:]
                if not pending:
                    sent += 1
        except BlockingIOError:
            pass
        finally:
            sock.setblocking(True)
        self.assertLess(sent, limit, "the frontend kept reading a client that reads no replies")
        return sent, pending

    def test_flooding_client_is_paced_and_others_are_served(self):
        flood = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        flood.connect(self.pair.socket)
        sent, pending = self.fill_until_blocked(flood)
        # While the flooder waits, everyone else is served.
        with self.pair.client() as other:
            for i in range(100):
                other.write("/other/%d" % i, "x")
            self.assertEqual(other.read("/other/99"), b"x")
        # Every request the flooder managed to send is answered, in order.
        flood.sendall(pending)
        reader = dxstest.XsClient.__new__(dxstest.XsClient)
        reader.sock, reader.events, reader.buf, reader.next_req_id = flood, [], b"", 0
        flood.settimeout(dxstest.DEFAULT_TIMEOUT)
        for i in range(sent + (1 if pending else 0)):
            r = reader.reply()
            self.assertEqual((r.type, r.req_id, r.payload), (WRITE, i + 1, b"OK\0"))
        flood.close()

    def test_client_not_reading_events_does_not_block_writers(self):
        watcher = self.pair.client()
        watcher.write("/watched", "")
        watcher.watch("/watched", "tok")
        self.assertEqual(watcher.event(), (b"/watched", b"tok"))
        # The watcher now reads nothing while 3000 events are generated for it.
        with self.pair.client() as writer:
            for i in range(3000):
                writer.write("/watched/k", "%d" % i)
        # Nothing was lost: the backlog waited in the store and arrives in order.
        for i in range(3000):
            self.assertEqual(watcher.event(), (b"/watched/k", b"tok"), "event %d" % i)
        self.assertTrue(watcher.no_event_pending())
        watcher.close()

    def test_hundreds_of_open_transactions(self):
        holder = self.pair.client()
        ids = [holder.transaction_start() for _ in range(300)]
        self.assertEqual(len(set(ids)), 300)
        for i, tx in enumerate(ids[:50]):
            holder.write("/held/%d" % i, "in-tx", tx)
        # Others are unaffected.
        with self.pair.client() as other:
            other.write("/free", "1")
            self.assertEqual(other.directory("/"), [b"free", b"tool"])
        report = self.pair.dxsctl("control", "memreport").stdout.decode()
        self.assertIn("open transactions: 300", report)
        # Closing the connection discards them all.
        holder.close()
        with self.pair.client() as other:
            dxstest.wait_until(lambda: "open transactions: 0" in self.pair.dxsctl("control", "memreport").stdout.decode(),
                               what="transactions of a closed connection to be discarded")
            self.assertEqual(other.error_of(dxstest.READ, b"/held/0\0"), "ENOENT")

    def test_oversized_header_closes_only_that_client(self):
        bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bad.connect(self.pair.socket)
        bad.sendall(HEADER.pack(WRITE, 1, 0, 4097) + b"x" * 100)
        bad.settimeout(dxstest.DEFAULT_TIMEOUT)
        self.assertEqual(bad.recv(100), b"", "expected the connection to be closed")
        bad.close()
        self.c.write("/still", "fine")
        self.assertEqual(self.c.read("/still"), b"fine")
        dxstest.wait_until(lambda: "4097-byte payload" in self.pair.logs(), what="a log line naming the bad length")


if __name__ == "__main__":
    dxstest.main()
