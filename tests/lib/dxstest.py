"""Test harness for dxs: starts the pair on temporary paths and speaks the Xenstore wire
protocol to it.

Every server a test needs is started by the test itself, on its own temporary directory
and sockets, and stopped when the test ends. Waits are on events (a socket accepting, a
reply arriving, a process exiting), each with a deadline, never fixed sleeps.

Binaries are found through the environment (meson's test() sets these):
  DXS_STORE, DXS_FRONTEND, DXSCTL   paths of the three binaries
  DXS_TEST_TMP                      parent of the temporary directories (default /tmp)
"""

import errno
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

# xsd_sockmsg_type
CONTROL, DIRECTORY, READ, GET_PERMS, WATCH, UNWATCH = 0, 1, 2, 3, 4, 5
TRANSACTION_START, TRANSACTION_END, INTRODUCE, RELEASE = 6, 7, 8, 9
GET_DOMAIN_PATH, WRITE, MKDIR, RM, SET_PERMS, WATCH_EVENT, ERROR = 10, 11, 12, 13, 14, 15, 16
IS_DOMAIN_INTRODUCED, RESUME, SET_TARGET, RESTRICT, RESET_WATCHES, DIRECTORY_PART = 17, 18, 19, 20, 21, 22

HEADER = struct.Struct("<IIII")
PAYLOAD_MAX = 4096
DEFAULT_TIMEOUT = 20.0


def binary(name):
    env = {"dxs-store": "DXS_STORE", "dxs-frontend": "DXS_FRONTEND", "dxsctl": "DXSCTL"}[name]
    path = os.environ.get(env)
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        sub = {"dxs-store": "store", "dxs-frontend": "frontend", "dxsctl": "dxsctl"}[name]
        path = os.path.join(here, "..", "..", "build", sub, name)
    if not os.access(path, os.X_OK):
        raise RuntimeError("%s not found (set %s)" % (name, env))
    return os.path.abspath(path)


def wait_until(predicate, timeout=DEFAULT_TIMEOUT, what="condition"):
    """Polls predicate (which checks an event that has happened, such as a socket
    accepting) until it is true; raises TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for " + what)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


class XsError(Exception):
    def __init__(self, name, op=None):
        super().__init__(name if op is None else "%s: %s" % (op, name))
        self.name = name


class Reply:
    def __init__(self, type_, req_id, tx_id, payload):
        self.type = type_
        self.req_id = req_id
        self.tx_id = tx_id
        self.payload = payload

    @property
    def error(self):
        return self.payload.rstrip(b"\0").decode() if self.type == ERROR else None

    def __repr__(self):
        return "Reply(type=%d, req_id=%d, tx_id=%d, payload=%r)" % (
            self.type, self.req_id, self.tx_id, self.payload)


class XsClient:
    """A raw Xenstore client on a Unix socket. Replies and watch events are read in the
    order the server sent them; events are kept aside until asked for."""

    def __init__(self, path, timeout=DEFAULT_TIMEOUT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.events = []
        self.next_req_id = 1
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- framing ---------------------------------------------------------------
    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, type_, payload=b"", tx_id=0, req_id=None):
        if req_id is None:
            req_id = self.next_req_id
            self.next_req_id += 1
        self.send_raw(HEADER.pack(type_, req_id, tx_id, len(payload)) + payload)
        return req_id

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_message(self):
        type_, req_id, tx_id, length = HEADER.unpack(self._read_exact(HEADER.size))
        return Reply(type_, req_id, tx_id, self._read_exact(length))

    def reply(self):
        """The next reply, setting aside watch events that come before it."""
        while True:
            m = self.read_message()
            if m.type == WATCH_EVENT:
                self.events.append(tuple(m.payload.split(b"\0")[:2]))
                continue
            return m

    def request(self, type_, payload=b"", tx_id=0):
        self.send(type_, payload, tx_id)
        return self.reply()

    def event(self):
        """The next watch event as (path, token)."""
        while not self.events:
            m = self.read_message()
            if m.type != WATCH_EVENT:
                raise AssertionError("expected a watch event, got %r" % m)
            self.events.append(tuple(m.payload.split(b"\0")[:2]))
        return self.events.pop(0)

    def no_event_pending(self, timeout=0.2):
        """True if no event is queued and none arrives before a following round trip.
        (Synchronises on the reply to a harmless request, not on a sleep.)"""
        if self.events:
            return False
        self.request(GET_DOMAIN_PATH, b"0\0")
        return not self.events

    # -- operations (raise XsError on an error reply) -----------------------------
    def _ok(self, type_, payload, tx_id=0):
        r = self.request(type_, payload, tx_id)
        if r.type == ERROR:
            raise XsError(r.error, type_)
        if r.type != type_:
            raise AssertionError("reply type %d to request type %d" % (r.type, type_))
        return r.payload

    @staticmethod
    def _b(s):
        return s if isinstance(s, bytes) else s.encode()

    def read(self, path, tx=0):
        return self._ok(READ, self._b(path) + b"\0", tx)

    def write(self, path, value, tx=0):
        self._ok(WRITE, self._b(path) + b"\0" + self._b(value), tx)

    def mkdir(self, path, tx=0):
        self._ok(MKDIR, self._b(path) + b"\0", tx)

    def rm(self, path, tx=0):
        self._ok(RM, self._b(path) + b"\0", tx)

    def directory(self, path, tx=0):
        p = self._ok(DIRECTORY, self._b(path) + b"\0", tx)
        return [n for n in p.split(b"\0") if n]

    def get_perms(self, path, tx=0):
        p = self._ok(GET_PERMS, self._b(path) + b"\0", tx)
        return [x.decode() for x in p.split(b"\0") if x]

    def set_perms(self, path, perms, tx=0):
        self._ok(SET_PERMS, self._b(path) + b"\0" + b"".join(self._b(p) + b"\0" for p in perms), tx)

    def watch(self, path, token):
        self._ok(WATCH, self._b(path) + b"\0" + self._b(token) + b"\0")

    def unwatch(self, path, token):
        self._ok(UNWATCH, self._b(path) + b"\0" + self._b(token) + b"\0")

    def transaction_start(self):
        return int(self._ok(TRANSACTION_START, b"\0").rstrip(b"\0"))

    def transaction_end(self, tx, commit=True):
        self._ok(TRANSACTION_END, b"T\0" if commit else b"F\0", tx)

    def control(self, *args):
        return self._ok(CONTROL, b"".join(self._b(a) + b"\0" for a in args))

    def error_of(self, type_, payload, tx_id=0):
        """The error name a request gets, or None if it succeeds."""
        return self.request(type_, payload, tx_id).error


class Pair:
    """dxs-store and dxs-frontend on a fresh temporary directory."""

    def __init__(self, store_args=(), frontend_args=(), config=None, state_dir=None,
                 frontend_env=None, systemd=False):
        base = os.environ.get("DXS_TEST_TMP", "/tmp")
        self.dir = tempfile.mkdtemp(prefix="dxs.", dir=base)
        self.state_dir = state_dir or os.path.join(self.dir, "state")
        self.store_sock = os.path.join(self.dir, "store.sock")
        self.ops_sock = os.path.join(self.dir, "ops.sock")
        self.socket = os.path.join(self.dir, "xs.sock")
        self.config = os.path.join(self.dir, "dxs.conf")
        with open(self.config, "w") as f:
            f.write(config or "")
        self.store_args = list(store_args)
        self.frontend_args = list(frontend_args)
        # Added to the frontend's environment (simxen's LD_PRELOAD and SIMXEN_DIR).
        self.frontend_env = dict(frontend_env or {})
        self.store = None
        self.frontend = None
        # systemd=True: the frontend runs as systemd would run it (tests/lib/fake_systemd.py):
        # its listening socket from socket activation, its clients' sockets in the fd store.
        self.systemd = None
        if systemd:
            import fake_systemd
            self.systemd = fake_systemd.FakeSystemd(self.dir, listen_path=self.socket)
        self.store_log = os.path.join(self.dir, "store.log")
        self.frontend_log = os.path.join(self.dir, "frontend.log")

    # -- processes ------------------------------------------------------------
    def start(self):
        self.start_store()
        self.start_frontend()
        return self

    def start_store(self, wait=True):
        """wait: until it listens (else the caller synchronises itself)."""
        if os.path.exists(self.ops_sock):
            os.unlink(self.ops_sock)
        log = open(self.store_log, "a")
        self.store = subprocess.Popen(
            [binary("dxs-store"), "--state-dir", self.state_dir, "--listen", "unix:" + self.store_sock,
             "--ops-listen", "unix:" + self.ops_sock, "--config", self.config] + self.store_args,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait:
            wait_until(lambda: self._accepting(self.ops_sock) or self._died(self.store, "dxs-store"),
                       what="dxs-store to listen")

    def start_frontend(self, wait=True):
        """wait: until it answers a request (which needs the store)."""
        log = open(self.frontend_log, "a")
        argv = [binary("dxs-frontend"), "--store", "unix:" + self.store_sock, "--socket", self.socket,
                "--config", self.config] + self.frontend_args
        env = dict(os.environ, **self.frontend_env)
        if self.systemd is not None:
            self.frontend = self.systemd.popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        else:
            self.frontend = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        # Ready when a request on the client socket is answered.
        if wait:
            wait_until(lambda: self._answers() or self._died(self.frontend, "dxs-frontend"),
                       what="dxs-frontend to answer")

    def _died(self, proc, name):
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s; log:\n%s" % (name, proc.returncode, self.logs()))
        return False

    @staticmethod
    def _accepting(path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def _answers(self):
        if not self._accepting(self.socket):
            return False
        try:
            with XsClient(self.socket, timeout=DEFAULT_TIMEOUT) as c:
                return c.request(GET_DOMAIN_PATH, b"0\0").type == GET_DOMAIN_PATH
        except OSError:
            return False

    def kill_store(self, sig=signal.SIGKILL):
        self.store.send_signal(sig)
        self.store.wait(timeout=DEFAULT_TIMEOUT)

    def kill_frontend(self, sig=signal.SIGKILL):
        self.frontend.send_signal(sig)
        self.frontend.wait(timeout=DEFAULT_TIMEOUT)

    def stop(self):
        for proc in (self.frontend, self.store):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=DEFAULT_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def cleanup(self):
        self.stop()
        if self.systemd is not None:
            self.systemd.close()
        if os.environ.get("DXS_KEEP_TMP"):
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # -- helpers ----------------------------------------------------------------
    def client(self):
        return XsClient(self.socket)

    def env(self):
        env = dict(os.environ)
        env["XENSTORED_PATH"] = self.socket
        return env

    def run(self, argv, check=True, input=None):
        """Runs a client program (xenstore-read, test-xenstore, ...) against the pair."""
        p = subprocess.run(argv, env=self.env(), input=input, capture_output=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s\nlogs:\n%s" % (
                " ".join(argv), p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace"), self.logs()))
        return p

    def dxsctl(self, *args, check=True):
        p = subprocess.run([binary("dxsctl"), "--store", "unix:" + self.ops_sock] + list(args),
                           capture_output=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("dxsctl %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()))
        return p

    def logs(self):
        out = []
        for name in (self.store_log, self.frontend_log):
            try:
                with open(name, errors="replace") as f:
                    out.append("== %s ==\n%s" % (os.path.basename(name), f.read()[-20000:]))
            except OSError:
                pass
        return "\n".join(out)


class PairTestCase(unittest.TestCase):
    """A test case with a fresh pair per test (self.pair) and a client (self.c)."""

    pair_config = None

    def setUp(self):
        self.pair = Pair(config=self.pair_config).start()
        self.c = self.pair.client()

    def tearDown(self):
        self.c.close()
        if self._failed():
            print(self.pair.logs())
        self.pair.cleanup()

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(test is self for test, _ in result.failures + result.errors)


def main():
    """Runs the unittest cases of the calling module; exit status 0 only if all pass."""
    unittest.main(verbosity=2)
