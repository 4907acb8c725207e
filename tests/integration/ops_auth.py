"""Who may use the Ops API (docs/design.md, "Who may ask"): the local socket's callers get
their role from their peer credentials, the TCP listener is mutual TLS only with roles
from certificate identities, and everything else is refused.

Certificates are made with the openssl CLI: a CA the store trusts, with a server
certificate and client certificates for an admin (alice), a reader (monitor) and a name
with no role (stranger); and another CA, whose alice the store must not take for its own.
The local checks connect as another user (setpriv), so they need root and are skipped
without it."""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import dxstest

READ_GID = 4242   # ops.group, by number: no /etc/group entry needed
ADMIN_GID = 4243  # ops.admin-group
NOBODY = 65534
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
            "-subj", "/CN=" + name, cwd=d)


def make_cert(d, ca, name, cn, san=None):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        if san:
            f.write("subjectAltName=%s\n" % san)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext, cwd=d)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class OpsAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("needs the openssl command")
        cls.certs = tempfile.mkdtemp(prefix="dxs-certs.", dir=os.environ.get("DXS_TEST_TMP", "/tmp"))
        d = cls.certs
        make_ca(d, "ca")
        make_ca(d, "other-ca")
        make_cert(d, "ca", "server", "dxs-store", san="DNS:localhost,IP:127.0.0.1")
        make_cert(d, "ca", "alice", "alice")
        make_cert(d, "ca", "monitor", "monitor")
        make_cert(d, "ca", "stranger", "stranger")
        make_cert(d, "other-ca", "forged-alice", "alice")
        os.chmod(d, 0o755)
        cls.port = free_port()
        # The groups only as root: another user cannot chown the socket into a group it is
        # not in (and the tests that need them connect as another user, which needs root).
        groups = ["ops.group = %d" % READ_GID, "ops.admin-group = %d" % ADMIN_GID]
        cls.config = "\n".join([
            "log.level = debug",
        ] + (groups if os.geteuid() == 0 else []) + [
            "ops.tcp-listen = tcp:127.0.0.1:%d" % cls.port,
            "ops.tls-cert = " + os.path.join(d, "server.pem"),
            "ops.tls-key = " + os.path.join(d, "server.key"),
            "ops.tls-client-ca = " + os.path.join(d, "ca.pem"),
            "ops.tls-admin = alice, ops-bot",
            "ops.tls-read = monitor",
        ]) + "\n"
        cls.pair = dxstest.Pair(config=cls.config)
        cls.started = time.monotonic()
        cls.pair.start_store()

    @classmethod
    def tearDownClass(cls):
        cls.pair.cleanup()
        shutil.rmtree(cls.certs, ignore_errors=True)

    def setUp(self):
        self.outcome_logged = False

    def tearDown(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is not None and any(t is self for t, _ in result.failures + result.errors):
            print(self.pair.logs())

    # -- helpers --------------------------------------------------------------
    def tls_ctl(self, who, *args, ca="ca", tls_name=None):
        d = self.certs
        name = ["--tls-name", tls_name] if tls_name else []
        return subprocess.run(
            [dxstest.binary("dxsctl"), "--store", "tcp:127.0.0.1:%d" % self.port,
             "--cert", os.path.join(d, who + ".pem"), "--key", os.path.join(d, who + ".key"),
             "--ca", os.path.join(d, ca + ".pem")] + name + list(args),
            capture_output=True, text=True, timeout=60)

    def local_ctl(self, groups, *args):
        """dxsctl on the local socket as uid/gid 65534 with these supplementary groups."""
        setpriv = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY]
        setpriv += ["--groups=" + ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
        return subprocess.run(
            setpriv + [dxstest.binary("dxsctl"), "--store", "unix:" + self.pair.ops_sock] + list(args),
            capture_output=True, text=True, timeout=60)

    def store_log(self):
        with open(self.pair.store_log, errors="replace") as f:
            return f.read()

    def read_back(self, path):
        p = self.pair.dxsctl("read", path, check=False)
        return p.stdout.decode().strip() if p.returncode == 0 else None

    def needs_root(self):
        if os.geteuid() != 0:
            self.skipTest("needs root, to connect as another user (setpriv)")
        if shutil.which("setpriv") is None:
            self.skipTest("needs setpriv (util-linux)")

    # -- the TCP listener -----------------------------------------------------
    def test_an_admin_certificate_writes_and_is_named_as_the_author(self):
        p = self.tls_ctl("alice", "write", "/tls/admin", "yes")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.read_back("/tls/admin"), "yes")
        self.assertIn("ops WRITE from cert CN=alice", self.store_log())

    def test_a_read_certificate_reads_but_cannot_write(self):
        self.pair.dxsctl("write", "/tls/for-reader", "seen")
        p = self.tls_ctl("monitor", "read", "/tls/for-reader")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "seen"), p.stderr)
        p = self.tls_ctl("monitor", "write", "/tls/by-reader", "no")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("permission denied", p.stderr)
        self.assertIn("needs the admin role", p.stderr)
        self.assertIsNone(self.read_back("/tls/by-reader"))
        self.assertRegex(self.store_log(), r"ops API: refused WRITE from cert CN=monitor")

    def test_a_certificate_with_no_role_is_refused_every_call(self):
        self.pair.dxsctl("write", "/tls/for-stranger", "hidden")
        for args in (("read", "/tls/for-stranger"), ("write", "/tls/by-stranger", "no")):
            p = self.tls_ctl("stranger", *args)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("permission denied", p.stderr)
            self.assertNotIn("hidden", p.stdout)
        self.assertIsNone(self.read_back("/tls/by-stranger"))

    def test_a_certificate_from_another_ca_fails_the_handshake(self):
        p = self.tls_ctl("forged-alice", "write", "/tls/forged", "no")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("cannot reach the store", p.stderr)
        self.assertIsNone(self.read_back("/tls/forged"))

    def test_dxsctl_checks_the_stores_certificate(self):
        # The store's certificate names localhost and 127.0.0.1: it passes as either, not
        # as another host, nor when dxsctl trusts another CA.
        p = self.tls_ctl("alice", "read", "/", tls_name="localhost")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.tls_ctl("alice", "read", "/", tls_name="elsewhere.example")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("cannot reach the store", p.stderr)
        p = self.tls_ctl("alice", "read", "/", ca="other-ca")
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_a_client_without_a_certificate_fails_the_handshake(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs, "ca.pem"))
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=dxstest.DEFAULT_TIMEOUT)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                # TLS 1.3: the server's refusal of the (missing) certificate comes after
                # the client's side of the handshake, on the first read.
                s.sendall(HTTP2_PREFACE)
                if s.recv(64) == b"":
                    raise ConnectionError("closed")

    def test_a_plain_text_client_gets_no_http2(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=dxstest.DEFAULT_TIMEOUT) as s:
            s.sendall(HTTP2_PREFACE)
            data = b""
            try:
                while len(data) < 9:
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionError:
                pass
        # Whatever comes back (nothing, or a TLS alert record, type 21), it is not an
        # HTTP/2 SETTINGS frame: the server never spoke gRPC to it.
        self.assertFalse(len(data) >= 9 and data[3] == 0x04, data)
        self.assertTrue(data == b"" or data[0] == 0x15, data)

    def test_failed_handshakes_cannot_flood_the_log(self):
        def plain_attempt():
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=dxstest.DEFAULT_TIMEOUT) as s:
                s.sendall(HTTP2_PREFACE)
                try:
                    while s.recv(64):
                        pass
                except ConnectionError:
                    pass
        for _ in range(60):
            plain_attempt()
        # gRPC's own lines are a burst of 20, then one a second (common/grpc_runtime.h):
        # however long this run took, far fewer than one per attempt.
        elapsed = time.monotonic() - self.started
        lines = self.store_log().count("Handshake failed")
        self.assertGreater(lines, 0)
        self.assertLessEqual(lines, 20 + int(elapsed) + 1)
        # The drops are counted: once the bucket earns a line back, the next says so.
        dxstest.wait_until(
            lambda: plain_attempt() or "gRPC lines not logged before this one" in self.store_log(),
            what="a gRPC line counting the lines not logged")

    # -- configurations the store refuses ---------------------------------------
    def refused_start(self, config):
        pair = dxstest.Pair(config=config)
        try:
            pair.start_store(wait=False)
            rc = pair.store.wait(timeout=dxstest.DEFAULT_TIMEOUT)
            return rc, pair.logs(), os.path.exists(pair.ops_sock)
        finally:
            pair.cleanup()

    def test_the_store_refuses_a_tcp_listener_without_tls(self):
        rc, log, sock = self.refused_start("ops.tcp-listen = tcp:127.0.0.1:%d\n" % free_port())
        self.assertNotEqual(rc, 0)
        self.assertIn("needs mutual TLS; missing: ops.tls-cert, ops.tls-key, ops.tls-client-ca, "
                      "ops.tls-admin or ops.tls-read", log)
        self.assertFalse(sock)

    def test_the_store_refuses_a_tcp_listener_whose_certificates_have_no_role(self):
        d = self.certs
        rc, log, _ = self.refused_start("\n".join([
            "ops.tcp-listen = tcp:127.0.0.1:%d" % free_port(),
            "ops.tls-cert = " + os.path.join(d, "server.pem"),
            "ops.tls-key = " + os.path.join(d, "server.key"),
            "ops.tls-client-ca = " + os.path.join(d, "ca.pem"),
        ]) + "\n")
        self.assertNotEqual(rc, 0)
        self.assertIn("missing: ops.tls-admin or ops.tls-read", log)

    # -- the local socket -------------------------------------------------------
    def test_root_or_the_stores_own_user_is_admin_on_the_local_socket(self):
        # This test's user: root, or (not root) the store's own.
        self.pair.dxsctl("write", "/local/root", "yes")
        self.assertEqual(self.read_back("/local/root"), "yes")
        self.assertIn("ops WRITE from uid %d" % os.geteuid(), self.store_log())

    def test_the_socket_belongs_to_the_read_group(self):
        self.needs_root()
        st = os.stat(self.pair.ops_sock)
        self.assertEqual((st.st_gid, st.st_mode & 0o777), (READ_GID, 0o660))

    def test_a_member_of_the_read_group_reads_but_cannot_write(self):
        self.needs_root()
        os.chmod(self.pair.dir, 0o711)
        self.pair.dxsctl("write", "/local/for-reader", "seen")
        p = self.local_ctl([READ_GID], "read", "/local/for-reader")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "seen"), p.stderr)
        p = self.local_ctl([READ_GID], "write", "/local/by-reader", "no")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("permission denied", p.stderr)
        self.assertIsNone(self.read_back("/local/by-reader"))
        self.assertIn("ops API: refused WRITE from uid 65534", self.store_log())

    def test_a_member_of_the_admin_group_writes(self):
        self.needs_root()
        os.chmod(self.pair.dir, 0o711)
        p = self.local_ctl([READ_GID, ADMIN_GID], "write", "/local/by-admin-group", "yes")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.read_back("/local/by-admin-group"), "yes")

    def test_a_local_user_outside_the_groups_is_refused_at_connect(self):
        self.needs_root()
        os.chmod(self.pair.dir, 0o711)
        # The socket file opened to anyone, as a wrong mode would: the peer check must
        # still refuse.
        os.chmod(self.pair.ops_sock, 0o666)
        try:
            p = self.local_ctl([], "read", "/")
        finally:
            os.chmod(self.pair.ops_sock, 0o660)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("cannot reach the store", p.stderr)
        self.assertRegex(self.store_log(), r"ops socket: refused a connection from pid \d+ uid 65534")


if __name__ == "__main__":
    dxstest.main()
