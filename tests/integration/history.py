"""dxsctl's history commands (log, show, diff, at, blame, follow) against a real pair:
commits made with Debian's xenstore-utils and a raw client, read back in text and --json."""

import json
import queue
import signal
import subprocess
import threading
import time

import dxstest


class History(dxstest.PairTestCase):
    def ctl(self, *args, check=True):
        return self.pair.dxsctl(*args, check=check)

    def ctl_json(self, *args):
        return json.loads(self.ctl("--json", *args).stdout)

    def log(self, *args):
        out = self.ctl("--json", "log", *args).stdout.decode().splitlines()
        return [json.loads(line) for line in out]

    def head(self):
        return self.log("-n", "1")[0]

    def write(self, path, value):
        self.pair.run(["xenstore-write", path, value])
        return self.head()["seq"]

    def test_at_a_commit_before_an_overwrite_reads_the_old_value(self):
        old = self.write("/vm/name", "old")
        new = self.write("/vm/name", "new")
        self.assertGreater(new, old)
        self.assertEqual(self.ctl("at", str(old), "read", "/vm/name").stdout, b"old\n")
        self.assertEqual(self.ctl("at", "HEAD", "read", "/vm/name").stdout, b"new\n")
        at = self.ctl_json("at", str(old), "read", "/vm/name")
        self.assertEqual(at["seq"], old)
        self.assertEqual(at["nodes"][0]["state"]["value"], "old")
        # By time: the commit's own time names it (the last commit at or before it).
        t = self.log("--until", str(old), "-n", "1")[0]["time_ns"]
        when = "@%d.%09d" % (t // 10**9, t % 10**9)
        self.assertEqual(self.ctl("at", when, "read", "/vm/name").stdout, b"old\n")
        local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t // 10**9)) + ".%09d" % (t % 10**9)
        self.assertEqual(self.ctl("at", local, "read", "/vm/name").stdout, b"old\n")
        self.assertEqual(self.ctl("at", local.replace(" ", "T"), "read", "/vm/name").stdout, b"old\n")
        # Before the first commit there is no tree to read.
        p = self.ctl("at", "@1", "read", "/vm/name", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not found", p.stderr)
        # A node that did not exist yet is the read's error.
        self.write("/vm/later", "x")
        p = self.ctl("at", str(new), "read", "/vm/later", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"ENOENT", p.stderr)
        ls = self.ctl("at", str(old), "ls", "/vm").stdout.decode()
        self.assertEqual(ls, 'name = "old"\n')
        self.assertEqual(self.ctl("at", "HEAD", "dir", "/vm").stdout.split(), [b"later", b"name"])

    def test_log_by_path_lists_only_commits_below_it(self):
        self.write("/a/b", "1")
        self.write("/a/bc", "sibling")
        self.write("/other", "x")
        self.write("/a/b/c", "deep")
        commits = self.log("--path", "/a/b")
        self.assertEqual([c["summary"] for c in commits],
                         ["dom0: write /a/b/c = deep", "dom0: write /a/b = 1"])
        everything = self.log()
        self.assertEqual([c["seq"] for c in everything],
                         sorted([c["seq"] for c in everything], reverse=True))
        self.assertEqual(everything[0]["summary"], "dom0: write /a/b/c = deep")
        self.assertEqual(len(self.log("-n", "2")), 2)
        text = self.ctl("log", "--path", "/a").stdout.decode().splitlines()
        self.assertEqual(len(text), 3)
        self.assertIn("dom0: write /a/b/c = deep", text[0])
        self.assertIn("xenstore-write", text[0])
        self.assertEqual(self.log("--domain", "7"), [])

    def test_show_names_the_author_and_the_change_whole(self):
        first = self.write("/s/v", "one")
        second = self.write("/s/v", "two")
        c = self.ctl_json("show", str(second))
        self.assertEqual(c["seq"], second)
        self.assertEqual(c["parents"], [first])
        self.assertEqual(c["author"]["kind"], "SOCKET")
        self.assertEqual(c["author"]["command"], "xenstore-write")
        self.assertEqual(c["summary"], "dom0: write /s/v = two")
        [ch] = c["changes"]
        self.assertEqual(ch["kind"], "MODIFIED")
        self.assertEqual(ch["before"]["value"], "one")
        self.assertEqual(ch["before"]["version"], first)
        self.assertEqual(ch["after"]["value"], "two")
        text = self.ctl("show", "HEAD").stdout.decode()
        self.assertIn("commit %d" % second, text)
        self.assertIn("command xenstore-write", text)
        self.assertIn('- "one" [n0]', text)
        self.assertIn('+ "two" [n0]', text)
        p = self.ctl("show", "999999", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not found", p.stderr)

    def test_diff_between_two_commits(self):
        start = self.write("/d/keep", "k")
        self.write("/d/mod", "1")
        base = self.write("/d/gone", "g")
        self.write("/d/mod", "2")
        self.pair.run(["xenstore-rm", "/d/gone"])
        self.write("/d/new", "n")
        self.write("/elsewhere", "e")
        d = self.ctl_json("diff", str(base), "HEAD", "/d")
        self.assertEqual([(c["kind"], c["path"]) for c in d["changes"]],
                         [("DELETED", "/d/gone"), ("MODIFIED", "/d/mod"), ("CREATED", "/d/new")])
        self.assertEqual(d["from"], base)
        whole = self.ctl_json("diff", str(start), "HEAD")
        self.assertIn("/elsewhere", [c["path"] for c in whole["changes"]])
        text = self.ctl("diff", str(base), "HEAD", "/d").stdout.decode()
        self.assertIn("M /d/mod\n  - \"1\" [n0]\n  + \"2\" [n0]\n", text)

    def test_blame_names_the_commit_of_each_node(self):
        x = self.write("/b/x", "1")
        y = self.write("/b/y", "1")
        self.write("/b/x", "2")
        x2 = self.head()["seq"]
        out = self.ctl("--json", "blame", "/b").stdout.decode().splitlines()
        lines = {l["path"]: l for l in map(json.loads, out)}
        self.assertEqual(lines["/b/x"]["commit"]["seq"], x2)
        self.assertEqual(lines["/b/y"]["commit"]["seq"], y)
        self.assertEqual(lines["/b/x"]["state"]["value"], "2")
        earlier = self.ctl("--json", "blame", "/b", "--at", str(y)).stdout.decode().splitlines()
        lines = {l["path"]: l for l in map(json.loads, earlier)}
        self.assertEqual(lines["/b/x"]["commit"]["seq"], x)
        self.assertIn("dom0: write /b/y = 1", self.ctl("blame", "/b").stdout.decode())

    def test_a_transaction_is_a_branch_and_a_merge_in_the_graph(self):
        c = self.c
        tx = c.transaction_start()
        c.write("/t/one", "1", tx)
        c.write("/t/two", "2", tx)
        c.transaction_end(tx)
        main = self.log("--path", "/t")
        self.assertEqual(len(main), 1)
        merge = main[0]
        self.assertEqual(merge["summary"], "dom0: merge transaction %d (2 writes)" % tx)
        self.assertEqual(len(merge["parents"]), 2)
        both = self.log("--path", "/t", "--branches")
        self.assertEqual([x["seq"] for x in both], [merge["seq"], merge["parents"][1]])
        self.assertFalse(both[1]["on_main"])
        graph = self.ctl("log", "--graph", "-n", "4").stdout.decode().splitlines()
        self.assertTrue(graph[0].startswith("* "), graph)
        self.assertEqual(graph[1], "|\\", graph)
        self.assertTrue(graph[2].startswith("| * "), graph)
        self.assertIn("(branch)", graph[2])
        # The branch closes into main at its base, the commit the transaction started on.
        self.assertEqual(graph[3], "|/", graph)
        self.assertTrue(graph[4].startswith("* "), graph)
        self.assertEqual(int(graph[4].split()[1]), self.ctl_json("show", str(both[1]["seq"]))["parents"][0])

    def start_follow(self, *args):
        p = subprocess.Popen([dxstest.binary("dxsctl"), "--store", "unix:" + self.pair.ops_sock]
                             + list(args) + ["follow"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        def stop():
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
        self.addCleanup(stop)
        # Following from the moment it says so: every commit after that is streamed.
        self.assertEqual(p.stderr.readline(), b"dxsctl: following\n")
        lines = queue.Queue()

        def reader():
            for line in p.stdout:
                lines.put(line)
            lines.put(None)
        threading.Thread(target=reader, daemon=True).start()
        return p, lines

    def test_follow_prints_commits_made_after_it_started(self):
        self.write("/f/before", "0")
        p, lines = self.start_follow("--json")
        self.pair.run(["xenstore-write", "/f/after", "1"])
        c = json.loads(lines.get(timeout=dxstest.DEFAULT_TIMEOUT))
        self.assertEqual(c["summary"], "dom0: write /f/after = 1")
        self.ctl("write", "/f/ops", "2")
        c = json.loads(lines.get(timeout=dxstest.DEFAULT_TIMEOUT))
        self.assertEqual(c["summary"], "ops: write /f/ops = 2")
        self.assertEqual(c["author"]["kind"], "OPS")
        p.send_signal(signal.SIGINT)
        p.wait(timeout=dxstest.DEFAULT_TIMEOUT)

    def test_the_store_stops_promptly_with_a_follower_attached(self):
        p, lines = self.start_follow()
        self.pair.run(["xenstore-write", "/g", "1"])
        self.assertIn(b"dom0: write /g = 1", lines.get(timeout=dxstest.DEFAULT_TIMEOUT))
        self.pair.kill_frontend(signal.SIGTERM)
        self.pair.kill_store(signal.SIGTERM)  # waits for it to exit
        self.assertEqual(self.pair.store.returncode, 0)
        p.wait(timeout=dxstest.DEFAULT_TIMEOUT)  # the stream ended with the store


class PrivateHistory(dxstest.PairTestCase):
    """Values under history.private-paths never leave the store through the History API,
    neither superseded ones nor the live one; the live tree's Ops API still reads them."""

    pair_config = "history.private-paths = /vm/*/secret\n"

    def ctl(self, *args, check=True):
        return self.pair.dxsctl(*args, check=check)

    def test_no_history_reply_carries_a_private_value(self):
        self.pair.run(["xenstore-write", "/vm/1/secret", "hunter2"])
        self.pair.run(["xenstore-write", "/vm/1/secret", "swordfish", "/vm/1/name", "vm1"])
        first = json.loads(self.ctl("--json", "log", "--path", "/vm/1/secret").stdout.splitlines()[-1])
        outputs = [
            self.ctl("--json", "log", "--changes").stdout,
            self.ctl("--json", "show", "HEAD").stdout,
            self.ctl("--json", "show", str(first["seq"])).stdout,
            self.ctl("--json", "at", "HEAD", "ls", "/vm").stdout,
            self.ctl("--json", "at", str(first["seq"]), "read", "/vm/1/secret").stdout,
            self.ctl("--json", "blame", "/vm").stdout,
            self.ctl("--json", "diff", "1", "HEAD").stdout,
            self.ctl("log", "--changes").stdout,
        ]
        for out in outputs:
            self.assertNotIn(b"hunter2", out)
            self.assertNotIn(b"swordfish", out)
        # That it changed shows: two different digests, and the public node's value.
        at = json.loads(self.ctl("--json", "at", "HEAD", "read", "/vm/1/secret").stdout)
        old = json.loads(self.ctl("--json", "at", str(first["seq"]), "read", "/vm/1/secret").stdout)
        self.assertTrue(at["nodes"][0]["state"]["redacted"])
        self.assertNotEqual(at["nodes"][0]["state"]["value_digest"],
                            old["nodes"][0]["state"]["value_digest"])
        self.assertIn(b"vm1", self.ctl("at", "HEAD", "read", "/vm/1/name").stdout)
        # The live tree is not history.
        self.assertEqual(self.ctl("read", "/vm/1/secret").stdout, b"swordfish\n")


if __name__ == "__main__":
    dxstest.main()
