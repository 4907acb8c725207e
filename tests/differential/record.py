#!/usr/bin/python3
"""Records what C xenstored answers to every script of the differential corpus.

Each script runs against a fresh C xenstored (Debian's xen-utils-4.17, started without a
hypervisor by start-peer.sh from $DXS_PEERS, default ../shared/peers beside the
repository), so that scripts are independent. The replies go to recorded/<file>.json,
which is committed: the integration test replays the corpus against dxs and compares
with these files, without needing C xenstored.

usage: tests/differential/record.py [--jobs N] [--only SUBSTRING] [--peers DIR]

--only re-records the scripts whose name contains SUBSTRING and keeps the others'
recordings. The recorder fails if a script's `closes` step left the connection open or
a step timed out, since neither can be what the corpus meant.
"""

import argparse
import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import xsdiff

REPO = os.path.abspath(os.path.join(xsdiff.HERE, "..", ".."))
START_TIMEOUT = 20.0


def peers_dir(arg):
    path = arg or os.environ.get("DXS_PEERS") or os.path.join(REPO, "..", "shared", "peers")
    script = os.path.join(path, "start-peer.sh")
    if not os.access(script, os.X_OK):
        sys.exit("record.py: no start-peer.sh in %s (set DXS_PEERS or --peers)" % path)
    return os.path.abspath(path)


def daemon_version():
    """The Debian version of the C daemon the recordings come from."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "xen-utils-4.17"],
                             capture_output=True, text=True, timeout=30)
        return "C xenstored, Debian xen-utils-4.17 " + out.stdout.strip()
    except OSError:
        return "C xenstored 4.17"


def _accepting(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Peer:
    """C xenstored on a fresh temporary directory and socket."""

    def __init__(self, peers):
        self.dir = tempfile.mkdtemp(prefix="xsdiff.")
        self.socket = os.path.join(self.dir, "xs.sock")
        self.log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.proc = subprocess.Popen([os.path.join(peers, "start-peer.sh"), "c", self.socket,
                                      os.path.join(self.dir, "state")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        delay = 0.001
        # Waits on the event "the socket accepts" (or the daemon exiting), polled.
        while not _accepting(self.socket):
            if self.proc.poll() is not None:
                raise RuntimeError("C xenstored exited: " + self.logs())
            if time.monotonic() > deadline:
                raise RuntimeError("C xenstored did not listen: " + self.logs())
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def logs(self):
        with open(os.path.join(self.dir, "daemon.log"), errors="replace") as f:
            return f.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def record_script(peers, script):
    """The result of one script against a fresh C xenstored, and its problems."""
    peer = Peer(peers)
    try:
        result = xsdiff.run_script(script, peer.socket)
        alive = peer.proc.poll() is None
    finally:
        peer.stop()
    problems = []
    if not alive:
        problems.append("C xenstored died during the script")
    for step, res in zip(script.steps, result["steps"]):
        if res.get("timeout"):
            problems.append("line %d: timed out waiting for a reply" % step.lineno)
        if step.closes and not res["closed"]:
            problems.append("line %d: marked `closes` but C kept the connection open" % step.lineno)
    return result, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=max(2, (os.cpu_count() or 2) * 2))
    ap.add_argument("--only", default=None, help="re-record only scripts whose name contains this")
    ap.add_argument("--peers", default=None, help="directory of start-peer.sh")
    args = ap.parse_args()
    peers = peers_dir(args.peers)
    corpus = xsdiff.load_corpus()
    version = daemon_version()

    jobs = [(f, s) for f, scripts in corpus.items() for s in scripts
            if args.only is None or args.only in s.name]
    results, failed = {}, False
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(record_script, peers, s): (f, s) for f, s in jobs}
        for fut in concurrent.futures.as_completed(futures):
            f, s = futures[fut]
            result, problems = fut.result()
            results[(f, s.name)] = result
            for p in problems:
                print("%s %s: %s" % (f, s.name, p), file=sys.stderr)
                failed = True

    for f, scripts in corpus.items():
        old = xsdiff.load_recording(f) if args.only else None
        merged = {}
        for s in scripts:
            if (f, s.name) in results:
                merged[s.name] = results[(f, s.name)]
            elif old and s.name in old["scripts"]:
                merged[s.name] = old["scripts"][s.name]
        if merged:
            xsdiff.save_recording(f, version, merged)
    steps = sum(len(s.steps) for _, s in jobs)
    print("recorded %d scripts (%d steps) from %d corpus files with %s" % (len(jobs), steps, len(corpus), version))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
