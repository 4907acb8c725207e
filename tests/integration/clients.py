"""Debian's Xenstore clients against the pair: xenstore-utils and Xen's test-xenstore."""

import dxstest

TEST_XENSTORE = "/usr/lib/xen-4.17/bin/test-xenstore"


class XenstoreUtils(dxstest.PairTestCase):
    def test_write_read_ls_list_exists_rm(self):
        p = self.pair
        p.run(["xenstore-write", "/vm/one/name", "vm1", "/vm/one/memory", "1024"])
        self.assertEqual(p.run(["xenstore-read", "/vm/one/name"]).stdout, b"vm1\n")
        self.assertEqual(p.run(["xenstore-list", "/vm/one"]).stdout.split(), [b"memory", b"name"])
        ls = p.run(["xenstore-ls", "/vm"]).stdout.decode()
        self.assertIn('name = "vm1"', ls)
        p.run(["xenstore-exists", "/vm/one/name"])
        p.run(["xenstore-rm", "/vm/one"])
        self.assertNotEqual(p.run(["xenstore-exists", "/vm/one/name"], check=False).returncode, 0)
        self.assertNotEqual(p.run(["xenstore-read", "/vm/one/name"], check=False).returncode, 0)


class TestXenstore(dxstest.PairTestCase):
    def run_test(self, name, iterations=1):
        out = self.pair.run([TEST_XENSTORE, "-t", name, "-i", str(iterations)]).stdout.decode()
        self.assertIn(name.ljust(10)[:10], out)
        self.assertNotIn("failed", out)

    def test_read_1(self):
        self.run_test("read 1")

    def test_read_2000(self):
        self.run_test("read 2000")

    def test_write_1(self):
        self.run_test("write 1")

    def test_write_2000(self):
        self.run_test("write 2000")

    def test_dir(self):
        self.run_test("dir")

    def test_rm_node(self):
        self.run_test("rm node")

    def test_rm_dir(self):
        self.run_test("rm dir")

    def test_all_twelve(self):
        out = self.pair.run([TEST_XENSTORE]).stdout.decode().splitlines()
        self.assertEqual(len([l for l in out if " ns" in l]), 12, out)

    def test_all_twelve_100_iterations(self):
        out = self.pair.run([TEST_XENSTORE, "-i", "100"]).stdout.decode()
        lines = [l for l in out.splitlines() if "avg:" in l]
        self.assertEqual(len(lines), 12, out)
        self.assertNotIn("failed", out)

    def test_random_mode_two_instances_at_once(self):
        # test-xenstore -r picks tests at random for the given seconds; two instances
        # share the parent xenstore-test/ and its cleanup transactions contend.
        import subprocess
        procs = [subprocess.Popen([TEST_XENSTORE, "-r", "20"], env=self.pair.env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
        for p in procs:
            out, _ = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, out.decode(errors="replace") + self.pair.logs())
            self.assertNotIn(b"failed", out)


if __name__ == "__main__":
    dxstest.main()
