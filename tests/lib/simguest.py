"""Drives dxs-simguest (tests/simguest/, docs/simxen.md): a simulated Xen guest whose
ring and event channel live on a simxen machine directory.

    g = SimGuest(simxen_dir, socket, domid=5)
    g.create(); g.introduce()
    g.write("foo", "bar"); assert g.read("foo") == "bar"

Each method sends one command line and reads its one result line before a deadline.
An ERR line raises GuestError (a dxstest.XsError) whose .name is the errno name. For many
guests at once, send() every command first and then collect each result().

Found through the environment (meson's test() sets them):
  DXS_SIMGUEST  the dxs-simguest binary      SIMXEN_LIB  libsimxen.so
"""

import os
import select
import subprocess
import time

import dxstest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "..", "..", "build", "tests")


def simguest_binary():
    path = os.environ.get("DXS_SIMGUEST") or os.path.join(BUILD, "simguest", "dxs-simguest")
    if not os.access(path, os.X_OK):
        raise RuntimeError("dxs-simguest not found at %s (build it, or set DXS_SIMGUEST)" % path)
    return os.path.abspath(path)


def simxen_library():
    path = os.environ.get("SIMXEN_LIB") or os.path.join(BUILD, "simxen", "libsimxen.so")
    if not os.access(path, os.R_OK):
        raise RuntimeError("libsimxen.so not found at %s (build it, or set SIMXEN_LIB)" % path)
    return os.path.abspath(path)


class GuestError(dxstest.XsError):
    def __init__(self, name, command, detail=""):
        super().__init__(name, command)
        self.detail = detail


def escape(value):
    """The CLI's escaping of a value: \\0 \\n \\\\ \\xHH."""
    b = value if isinstance(value, bytes) else value.encode()
    out = []
    for c in b:
        if c == 0:
            out.append("\\0")
        elif c == 10:
            out.append("\\n")
        elif c == 92:
            out.append("\\\\")
        elif c < 32 or c >= 127:
            out.append("\\x%02x" % c)
        else:
            out.append(chr(c))
    return "".join(out)


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = text[i + 1]
        if n == "0":
            out.append(0)
        elif n == "n":
            out.append(10)
        elif n == "\\":
            out.append(92)
        elif n == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 2
        i += 2
    return bytes(out)


class SimGuest:
    def __init__(self, simxen_dir, socket_path, domid, port=1, timeout=10.0):
        self.domid = domid
        self.port = port
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [simguest_binary(), "--simxen-dir", simxen_dir, "--socket", socket_path,
             "--domid", str(domid), "--port", str(port), "--timeout", str(timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._out = b""
        self._sent = []

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the line protocol ---------------------------------------------------------
    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        self._sent.append(line)

    def result(self, timeout=None):
        """The next result line. The CLI's own deadlines are shorter than ours, so
        running out here means it is stuck or dead."""
        deadline = time.monotonic() + (timeout or self.timeout) + 5.0
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("dxs-simguest %d: no result for %r" % (self.domid, self._sent[0]))
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise ConnectionError("dxs-simguest %d exited (%s) during %r: %s" % (
                        self.domid, self.proc.wait(), self._sent[0],
                        self.proc.stderr.read().decode(errors="replace")))
                self._out += chunk
        line, self._out = self._out.split(b"\n", 1)
        command = self._sent.pop(0)
        text = line.decode()
        if text.startswith("ERR "):
            parts = text.split(" ", 2)
            raise GuestError(parts[1], command, parts[2] if len(parts) > 2 else "")
        return text

    def command(self, line, timeout=None):
        self.send(line)
        return self.result(timeout)

    def _ok(self, line):
        text = self.command(line)
        if not text.startswith("OK"):
            raise AssertionError("%r: unexpected %r" % (line, text))
        return text[3:]

    # -- commands ------------------------------------------------------------------
    def create(self):
        self._ok("create")

    def introduce(self, gfn=1):
        self._ok("introduce %d" % gfn)

    def release(self):
        self._ok("release")

    def shutdown(self):
        self._ok("shutdown")

    def die(self):
        self._ok("die")

    @staticmethod
    def _tx(tx):
        return "tx %d " % tx if tx else ""

    def read(self, path, tx=0):
        return unescape(self._ok(self._tx(tx) + "read " + path)).decode()

    def write(self, path, value, tx=0):
        self._ok("%swrite %s %s" % (self._tx(tx), path, escape(value)))

    def mkdir(self, path, tx=0):
        self._ok(self._tx(tx) + "mkdir " + path)

    def rm(self, path, tx=0):
        self._ok(self._tx(tx) + "rm " + path)

    def directory(self, path, tx=0):
        return self._ok(self._tx(tx) + "dir " + path).split()

    def get_perms(self, path, tx=0):
        return self._ok(self._tx(tx) + "getperms " + path).split()

    def set_perms(self, path, perms, tx=0):
        self._ok("%ssetperms %s %s" % (self._tx(tx), path, " ".join(perms)))

    def watch(self, path, token):
        self._ok("watch %s %s" % (path, token))

    def unwatch(self, path, token):
        self._ok("unwatch %s %s" % (path, token))

    def event(self, timeout=5.0):
        """(path, token) of the next watch event, or None after timeout seconds."""
        text = self.command("event %g" % timeout, timeout=timeout + self.timeout)
        if text == "TIMEOUT":
            return None
        _, path, token = text.split(" ", 2)
        return unescape(path).decode(), unescape(token).decode()

    def transaction_start(self):
        return int(self._ok("txstart"))

    def transaction_end(self, tx, commit=True):
        self._ok("tx %d txend %s" % (tx, "T" if commit else "F"))

    def domain_path(self, domid=None):
        return self._ok("domain-path" + ("" if domid is None else " %d" % domid))

    def raw(self, type_, payload=b""):
        return unescape(self._ok("raw %s %s" % (type_, escape(payload))))

    def dom0(self, type_, payload=b""):
        return unescape(self._ok("dom0 %s %s" % (type_, escape(payload))))

    def reset(self):
        self._ok("reset")

    def features(self):
        return int(self._ok("features"))

    def indices(self):
        names = ("req_cons", "req_prod", "rsp_cons", "rsp_prod", "connection", "error")
        return dict(zip(names, map(int, self._ok("indices").split())))

    def poke(self, field, value):
        self._ok("poke %s %d" % (field, value))

    def put_bytes(self, data):
        return int(self._ok("put-bytes " + data.hex()))

    def notify(self):
        self._ok("notify")

    def churn(self, first, count, directory):
        """Watches and unwatches directory/n<i> and counts in directory/value, for i in
        first..first+count-1, as fast as the ring goes (dxs-simguest's churn)."""
        self._ok("churn %d %d %s" % (first, count, directory))

    def bench_write(self, count, path):
        """Elapsed microseconds; a # in path becomes the request's number."""
        return int(self._ok("bench-write %d %s" % (count, path)))

    def bench_read(self, count, path):
        return int(self._ok("bench-read %d %s" % (count, path)))
