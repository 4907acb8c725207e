"""One frontend at a time (ARCHITECTURE.md section 4): a frontend that attaches takes
the store over, and the one it replaced, should it run on (started by hand beside
systemd's, stopped and continued), changes nothing more and exits; the store's private
socket serves only the frontend's user, whatever its file mode."""

import os
import signal
import socket
import struct
import subprocess
import time

import dxstest

# HTTP/2's client connection preface and an empty SETTINGS frame: what a gRPC client
# sends first, and what a gRPC server answers with its own SETTINGS.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + struct.pack(">I", 0)[1:] + b"\x04\x00" + \
    struct.pack(">I", 0)


class OneFrontendAtATime(dxstest.PairTestCase):
    def start_second_frontend(self):
        """Another dxs-frontend on the same store, on a client socket of its own; returns
        (process, socket path, log path) once it answers there."""
        path = os.path.join(self.pair.dir, "second.sock")
        log_path = os.path.join(self.pair.dir, "second-frontend.log")
        log = open(log_path, "a")
        proc = subprocess.Popen(
            [dxstest.binary("dxs-frontend"), "--store", "unix:" + self.pair.store_sock,
             "--socket", path, "--config", self.pair.config], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))

        def answers():
            if proc.poll() is not None:
                raise AssertionError("the second frontend exited with %s" % proc.returncode)
            try:
                with dxstest.XsClient(path) as c:
                    return c.request(dxstest.GET_DOMAIN_PATH, b"0\0").type == dxstest.GET_DOMAIN_PATH
            except OSError:
                return False
        dxstest.wait_until(answers, what="the second frontend to answer")
        return proc, path, log_path

    def frontend_log(self):
        with open(self.pair.frontend_log, errors="replace") as f:
            return f.read()

    def test_a_newer_frontend_takes_over_and_the_older_one_exits(self):
        self.c.write("/one", "before")
        proc, path, _ = self.start_second_frontend()
        # The first one's stream was taken over; attaching again, it is refused and stops.
        self.assertEqual(self.pair.frontend.wait(timeout=dxstest.DEFAULT_TIMEOUT), 1)
        self.assertIn("superseded by a newer frontend", self.frontend_log())
        with dxstest.XsClient(path) as c:
            self.assertEqual(c.read("/one"), b"before")
            c.write("/one", "after")
            self.assertEqual(c.read("/one"), b"after")
        with open(self.pair.store_log, errors="replace") as f:
            self.assertRegex(f.read(), r"frontend \(.*\) of generation \d+ refused")

    def test_a_stopped_frontend_replaced_meanwhile_changes_nothing_when_continued(self):
        self.c.write("/two", "kept")
        # The client's request waits, unread, in the socket of a frontend that is stopped.
        self.pair.frontend.send_signal(signal.SIGSTOP)
        try:
            self.c.send(dxstest.WRITE, b"/two\0overwritten")
            proc, path, _ = self.start_second_frontend()
        finally:
            self.pair.frontend.send_signal(signal.SIGCONT)
        self.assertEqual(self.pair.frontend.wait(timeout=dxstest.DEFAULT_TIMEOUT), 1)
        # The old frontend read the request when continued, but the store took nothing
        # from it: its client sees its connection end, with no reply.
        with self.assertRaises((EOFError, ConnectionError, OSError)):
            self.c.reply()
        with dxstest.XsClient(path) as c:
            self.assertEqual(c.read("/two"), b"kept")
            # The newer frontend is unaffected: it serves on, and the store's view of
            # the old one's connections was closed through the normal path.
            c.write("/two", "new")
            self.assertEqual(c.read("/two"), b"new")

    def test_the_store_socket_admits_only_the_frontends_user(self):
        if os.geteuid() != 0:
            self.skipTest("needs root, to connect as another user")
        # Make the socket reachable by anyone, as a wrong mode or a CAP_DAC_OVERRIDE
        # process would: the peer check must still refuse a user that is not the
        # frontend's.
        os.chmod(self.pair.dir, 0o711)
        os.chmod(self.pair.store_sock, 0o666)
        nobody = 65534

        def first_answer(uid):
            """What the store sends to a gRPC client preface from `uid`: bytes, or b""
            if it closes the connection."""
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(r)
                    if uid is not None:
                        os.setgid(nobody)
                        os.setuid(uid)
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(dxstest.DEFAULT_TIMEOUT)
                    s.connect(self.pair.store_sock)
                    try:
                        s.sendall(HTTP2_PREFACE)
                        data = s.recv(64)
                    except ConnectionError:
                        data = b""
                    os.write(w, b"+" + data)
                finally:
                    os._exit(0)
            os.close(w)
            out = b""
            while True:
                chunk = os.read(r, 4096)
                if not chunk:
                    break
                out += chunk
            os.close(r)
            os.waitpid(pid, 0)
            self.assertTrue(out.startswith(b"+"), "the child could not connect")
            return out[1:]

        self.assertEqual(first_answer(nobody), b"")
        self.assertNotEqual(first_answer(None), b"")
        with open(self.pair.store_log, errors="replace") as f:
            self.assertRegex(f.read(), r"frontend session: refused a connection from pid \d+ uid 65534")
        # The frontend, root, was never refused: it serves on.
        self.c.write("/three", "served")
        self.assertEqual(self.c.read("/three"), b"served")


if __name__ == "__main__":
    dxstest.main()
