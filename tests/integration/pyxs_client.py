"""python3-pyxs (Debian) drives every operation it supports against the pair, including
transactions and watches. pyxs is a strict client: it routes replies by request id and
checks that each reply's type and transaction id match the request."""

import errno
import threading

import dxstest
from pyxs import Client, PyXSError
from pyxs._internal import Op


class Pyxs(dxstest.PairTestCase):
    def client(self):
        return Client(unix_socket_path=self.pair.socket)

    def test_read_write_mkdir_delete_list_exists(self):
        with self.client() as c:
            c.write(b"/foo/bar", b"baz")
            self.assertEqual(c.read(b"/foo/bar"), b"baz")
            self.assertEqual(c.read(b"/foo"), b"")
            c.mkdir(b"/foo/dir/sub")
            self.assertEqual(sorted(c.list(b"/foo")), [b"bar", b"dir"])
            self.assertEqual(c.list(b"/foo/dir/sub"), [])
            self.assertTrue(c.exists(b"/foo/dir"))
            c.delete(b"/foo/dir")
            self.assertFalse(c.exists(b"/foo/dir"))
            self.assertEqual(c.read(b"/foo/dir", b"absent"), b"absent")
            with self.assertRaises(PyXSError) as e:
                c.list(b"/path/to/nothing")
            self.assertEqual(e.exception.args[0], errno.ENOENT)

    def test_long_values(self):
        # pyxs accepts 7-bit ASCII only; the raw-protocol tests cover binary values.
        with self.client() as c:
            value = bytes(range(32, 127)) * 21
            c.write(b"/bin", value)
            self.assertEqual(c.read(b"/bin"), value)

    def test_permissions(self):
        with self.client() as c:
            c.mkdir(b"/foo/bar")
            self.assertEqual(c.get_perms(b"/foo/bar"), [b"n0"])
            c.set_perms(b"/foo/bar", [b"b0"])
            self.assertEqual(c.get_perms(b"/foo/bar"), [b"b0"])
            c.set_perms(b"/foo/bar", [b"b0", b"n0", b"r5"])
            self.assertEqual(c.get_perms(b"/foo/bar"), [b"b0", b"n0", b"r5"])
            # New nodes inherit their parent's permissions.
            c.write(b"/foo/bar/child", b"")
            self.assertEqual(c.get_perms(b"/foo/bar/child"), [b"b0", b"n0", b"r5"])

    def test_walk(self):
        with self.client() as c:
            c.write(b"/w/a/x", b"1")
            c.write(b"/w/b", b"2")
            seen = {path: value for path, value, _ in c.walk(b"/w")}
            self.assertEqual(seen[b"/w/a/x"], b"1")
            self.assertEqual(seen[b"/w/b"], b"2")

    def test_domains(self):
        with self.client() as c:
            self.assertEqual(c.get_domain_path(0), b"/local/domain/0")
            self.assertEqual(c.get_domain_path(999), b"/local/domain/999")
            self.assertTrue(c.is_domain_introduced(0))
            self.assertFalse(c.is_domain_introduced(999))
            c.introduce_domain(7, 12345, 3)
            self.assertTrue(c.is_domain_introduced(7))
            c.introduce_domain(8, 12346, 3)
            # pyxs refuses these client-side unless it runs in a real dom0; send them raw.
            c.ack(Op.SET_TARGET, b"8\0", b"7\0")
            c.ack(Op.RESUME, b"7\0")
            c.ack(Op.RELEASE, b"7\0")
            self.assertFalse(c.is_domain_introduced(7))
            with self.assertRaises(PyXSError) as e:
                c.ack(Op.RELEASE, b"7\0")
            self.assertEqual(e.exception.args[0], errno.ENOENT)

    def test_transaction_commit_and_rollback(self):
        with self.client() as c:
            c.transaction()
            c.write(b"/tx/kept", b"1")
            self.assertTrue(c.commit())
            self.assertEqual(c.read(b"/tx/kept"), b"1")
            c.transaction()
            c.write(b"/tx/dropped", b"1")
            c.rollback()
            self.assertFalse(c.exists(b"/tx/dropped"))

    def test_transaction_conflict_is_eagain(self):
        with self.client() as a, self.client() as b:
            a.write(b"/tx/k", b"a")
            a.transaction()
            self.assertEqual(a.read(b"/tx/k"), b"a")
            b.write(b"/tx/k", b"b")
            a.write(b"/tx/k", b"c")
            self.assertFalse(a.commit())
            self.assertEqual(b.read(b"/tx/k"), b"b")

    def test_transactions_under_one_parent_merge(self):
        with self.client() as a, self.client() as b:
            a.mkdir(b"/vm")
            a.transaction()
            b.transaction()
            a.write(b"/vm/A/name", b"a")
            b.write(b"/vm/B/name", b"b")
            self.assertTrue(a.commit())
            self.assertTrue(b.commit())
            self.assertEqual(sorted(a.list(b"/vm")), [b"A", b"B"])

    def test_uncommitted_transaction_discarded_when_connection_closes(self):
        c = self.client()
        c.connect()
        c.transaction()
        c.write(b"/tx/never", b"1")
        c.close()
        with self.client() as d:
            self.assertFalse(d.exists(b"/tx/never"))

    def test_watches(self):
        with self.client() as c, self.client() as writer:
            c.write(b"/foo/bar", b"")
            m = c.monitor()
            m.watch(b"/foo/bar", b"boo")
            events = m.wait()
            self.assertEqual(tuple(next(events)), (b"/foo/bar", b"boo"))  # immediate event
            writer.write(b"/foo/bar", b"1")
            self.assertEqual(tuple(next(events)), (b"/foo/bar", b"boo"))
            writer.write(b"/foo/bar/baz", b"2")
            self.assertEqual(tuple(next(events)), (b"/foo/bar/baz", b"boo"))
            m.unwatch(b"/foo/bar", b"boo")

    def test_two_tokens_on_one_path(self):
        with self.client() as c:
            c.write(b"/foo/bar", b"")
            m = c.monitor()
            m.watch(b"/foo/bar", b"boo")
            m.watch(b"/foo/bar", b"baz")
            events = m.wait()
            first = {tuple(next(events)), tuple(next(events))}
            self.assertEqual(first, {(b"/foo/bar", b"boo"), (b"/foo/bar", b"baz")})

    def test_special_watches(self):
        with self.client() as c:
            m = c.monitor()
            m.watch(b"@introduceDomain", b"intro")
            events = m.wait()
            self.assertEqual(tuple(next(events)), (b"@introduceDomain", b"intro"))

            def introduce():
                with self.client() as other:
                    other.introduce_domain(9, 1, 2)

            t = threading.Thread(target=introduce)
            t.start()
            self.assertEqual(tuple(next(events)), (b"@introduceDomain", b"intro"))
            t.join()
            m.unwatch(b"@introduceDomain", b"intro")


if __name__ == "__main__":
    dxstest.main()
