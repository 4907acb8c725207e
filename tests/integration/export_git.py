"""dxsctl export-git against a pair: the history as a git repository. Every exported
commit's tree, read back from git (ls-tree and cat-file, and `git checkout` for some),
equals `dxsctl --json at SEQ ls /` byte for byte, permissions included; transactions are
merges; a second export continues the first; --since starts at the tree there."""

import json
import os
import subprocess

import dxstest


def git(repo, *args, check=True):
    p = subprocess.run(["git", "-C", repo] + list(args), capture_output=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("git %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
    return p.stdout


def node_path(file_name):
    """The node a file of the export is ("a/b.node" -> "/a/b", ".node" -> "/")."""
    assert file_name.endswith(".node"), file_name
    return "/" + file_name[: -len(".node")]


def parse_node_file(content):
    """(perms, value) of a node's file: "perms ..." and maybe "redacted HEX" lines, an
    empty line, then the value's bytes; a redacted value is ("redacted", hex)."""
    header, sep, value = content.partition(b"\n\n")
    assert sep, content
    lines = header.decode().split("\n")
    assert lines[0].startswith("perms"), content
    perms = lines[0].split()[1:]
    if len(lines) > 1:
        assert len(lines) == 2 and lines[1].startswith("redacted "), content
        assert value == b"", content
        return perms, ("redacted", lines[1].split()[1])
    return perms, value


class ExportGit(dxstest.PairTestCase):
    def dxsctl_json(self, *args):
        return json.loads(self.pair.dxsctl("--json", *args).stdout)

    def tree_at(self, seq):
        """{path: (perms, value)} of the tree right after commit seq, from the store."""
        reply = self.dxsctl_json("at", str(seq), "ls", "/")
        self.assertFalse(reply["truncated"])
        tree = {}
        for n in reply["nodes"]:
            s = n["state"]
            if s.get("redacted"):
                value = ("redacted", s["value_digest"])
            else:
                value = s["value"].encode("latin-1")  # \u00XX escapes are the bytes
            tree[n["path"]] = (s["perms"], value)
        return tree

    def git_tree(self, repo, commit):
        """{path: (perms, value)} of a git commit's files."""
        names = git(repo, "ls-tree", "-r", "-z", "--name-only", commit).split(b"\0")
        tree = {}
        for name in filter(None, names):
            content = git(repo, "cat-file", "blob", "%s:%s" % (commit, name.decode()))
            tree[node_path(name.decode())] = parse_node_file(content)
        return tree

    def work_tree(self, repo):
        """{path: (perms, value)} of the files checked out in repo."""
        tree = {}
        for root, dirs, files in os.walk(repo):
            if ".git" in dirs:
                dirs.remove(".git")
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), repo)
                with open(os.path.join(root, f), "rb") as fh:
                    tree[node_path(rel)] = parse_node_file(fh.read())
        return tree

    def commits(self, repo):
        """{seq: (git sha, parents' shas, subject)} of every commit reachable from main."""
        out = git(repo, "log", "--format=%H%x01%P%x01%B%x02", "main").decode()
        result = {}
        for entry in filter(None, (e.strip("\n") for e in out.split("\x02"))):
            sha, parents, body = entry.split("\x01")
            seq_lines = [l for l in body.split("\n") if l.startswith("seq: ")]
            self.assertEqual(len(seq_lines), 1, body)
            seq = int(seq_lines[0][5:])
            self.assertNotIn(seq, result, "seq %d exported twice" % seq)
            result[seq] = (sha, parents.split(), body)
        return result

    def export(self, repo, *extra):
        return self.pair.dxsctl("export-git", repo, *extra).stdout.decode()

    def check_round_trip(self, repo, commits, checkout=()):
        for seq, (sha, _, body) in sorted(commits.items()):
            self.assertEqual(self.git_tree(repo, sha), self.tree_at(seq), "commit %d\n%s" % (seq, body))
        for seq in checkout:
            git(repo, "checkout", "-q", commits[seq][0])
            self.assertEqual(self.work_tree(repo), self.tree_at(seq), "checkout of %d" % seq)
        git(repo, "checkout", "-q", "main")

    def make_history(self):
        c = self.c
        c.write("/vm/1/name", "one")
        c.write("/vm/1/blob", b"bin\0ary\n\xff\x01 and more")
        c.mkdir("/vm/2")
        c.set_perms("/vm/1", ["n0", "r7"])
        tx = c.transaction_start()
        c.write("/vm/2/a", "x", tx)
        c.write("/vm/2/b", "y", tx)
        c.rm("/vm/1/name", tx)
        c.transaction_end(tx)
        c.rm("/vm/1/blob")
        c.set_perms("@releaseDomain", ["n0", "r5"])
        tx = c.transaction_start()
        c.rm("/vm/2", tx)
        c.write("/vm/3/c", "", tx)
        c.set_perms("/vm/3", ["b0", "w3"], tx)
        c.transaction_end(tx)

    def test_round_trip_continuation_and_since(self):
        self.make_history()
        repo = os.path.join(self.pair.dir, "export")
        out = self.export(repo)
        self.assertIn("main at commit", out)
        self.assertEqual(os.stat(repo).st_mode & 0o777, 0o700)  # it holds every value

        commits = self.commits(repo)
        merges = [s for s, (_, parents, _) in commits.items() if len(parents) == 2]
        self.assertEqual(len(merges), 2, commits)
        graph = git(repo, "log", "--graph", "--oneline", "main").decode()
        self.assertIn("merge transaction", graph)
        self.assertIn("|\\", graph)  # a merge drawn with its branch
        # Every commit the store has is here once: seqs 1..head, none missing.
        log = [json.loads(l) for l in self.pair.dxsctl("--json", "log", "--branches").stdout.splitlines()]
        self.assertEqual(sorted(commits), sorted(c["seq"] for c in log))
        # Each merge's second parent is its transaction's branch commit, on its base.
        by_sha = {sha: seq for seq, (sha, _, _) in commits.items()}
        for m in merges:
            branch = by_sha[commits[m][1][1]]
            self.assertIn("branch:", commits[branch][2])
            self.assertIn("transaction:", commits[m][2])
        # Special nodes and authors are in the messages.
        bodies = "\n".join(b for _, _, b in commits.values())
        self.assertIn("special: @releaseDomain perms n0 -> n0 r5", bodies)
        self.assertIn("author: socket, dom0", bodies)
        # The work tree is main's head, checked out.
        self.assertEqual(git(repo, "status", "--porcelain"), b"")

        head = max(s for s, (_, p, b) in commits.items() if "branch:" not in b)
        self.check_round_trip(repo, commits, checkout=(2, merges[0], head))
        git_show = git(repo, "show", "%s:vm/1.node" % commits[2][0])
        self.assertEqual(git_show, b"perms n0\n\n")

        # More history, and a second export that continues the first.
        old_head = git(repo, "rev-parse", "main").strip()
        c = self.c
        c.write("/vm/4", "four")
        tx = c.transaction_start()
        c.write("/vm/4/x", "1", tx)
        c.transaction_end(tx)
        c.rm("/vm/3")
        out = self.export(repo)
        self.assertIn("4 commits (4 from the store)", out)
        more = self.commits(repo)
        self.assertEqual(len(more), len(commits) + 4)
        for seq, (sha, parents, _) in commits.items():
            self.assertEqual(more[seq][0], sha, "commit %d rewritten" % seq)
        first_new = min(set(more) - set(commits))
        self.assertEqual(more[first_new][1], [old_head.decode()])
        self.check_round_trip(repo, {s: more[s] for s in set(more) - set(commits)})
        self.assertEqual(self.work_tree(repo), self.tree_at(max(more)))
        self.assertIn("up to date", self.export(repo))
        self.assertEqual(self.commits(repo), more)

        # --since: a new repository from the tree at a commit.
        since = merges[0]
        repo2 = os.path.join(self.pair.dir, "since")
        self.export(repo2, "--since", str(since))
        later = self.commits(repo2)
        self.assertEqual(sorted(later), [s for s in sorted(more) if s >= since])
        root = git(repo2, "rev-list", "--max-parents=0", "main").split()
        self.assertEqual(root, [later[since][0].encode()])
        self.assertIn("dxs: the tree at commit %d" % since, later[since][2])
        self.check_round_trip(repo2, later)
        # The same trees as the full export from there on.
        for seq in later:
            self.assertEqual(git(repo2, "rev-parse", later[seq][0] + "^{tree}"),
                             git(repo, "rev-parse", more[seq][0] + "^{tree}"))

    def test_refusals(self):
        self.c.write("/a", "1")
        busy = os.path.join(self.pair.dir, "busy")
        os.mkdir(busy)
        with open(os.path.join(busy, "file"), "w") as f:
            f.write("mine")
        p = self.pair.dxsctl("export-git", busy, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"neither a git repository", p.stderr)
        self.assertEqual(os.listdir(busy), ["file"])
        repo = os.path.join(self.pair.dir, "export")
        self.export(repo)
        p = self.pair.dxsctl("export-git", repo, "--since", "1", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"--since starts a new one", p.stderr)
        # A repository someone made is not written into.
        other = os.path.join(self.pair.dir, "other")
        git(self.pair.dir, "init", "-q", "-b", "main", other)
        git(other, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "--allow-empty", "-m", "x")
        p = self.pair.dxsctl("export-git", other, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no export made", p.stderr)
        self.assertEqual(self.pair.dxsctl("export-git", check=False).returncode, 2)


if __name__ == "__main__":
    dxstest.main()
