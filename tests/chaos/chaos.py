#!/usr/bin/python3
"""chaos: SIGKILL dxs-frontend, dxs-store or both at random instants under a VM-lifecycle
workload, restart them as systemd would, and check that no client noticed anything but a
delay (ARCHITECTURE.md section 4; docs/design.md, "Restarts").

The pair runs on a simulated Xen machine (tests/simxen) with the frontend as systemd
runs it (tests/lib/fake_systemd.py: NOTIFY_SOCKET with the fd store, the listening
socket and stored fds passed back with LISTEN_FDS and their names). Clients, all at
once, for the whole run:

  guest<N>    simulated guests over rings (dxs-simguest): watch/unwatch/count churn, a
              write whose watch event they wait for, a transaction of two nodes
  toolstack   dom0 over the socket: create a VM's nodes in a transaction, move its
              devices' states, tear it down in a transaction (tests/bench/vm_lifecycle's
              shape)
  sequencer   dom0: numbered writes that Debian's xenstore-watch follows, and
              increments of a counter in transactions
  pyxs        python3-pyxs: increments of the same counter in transactions (conflicts)
  utils       Debian's xenstore-write, a new connection per write (some while no
              frontend listens)

Each kill comes once the clients made progress since the last restart, after a random
delay, so it lands anywhere: mid-request, mid-transaction, mid-watch delivery,
mid-ring-message, during recovery. Checked, and printed as violations:
  - every acknowledged write is present at the end (last values, counters);
  - no request applied twice (a watch applied twice answers EEXIST, an unwatch ENOENT;
    counters would run ahead);
  - every request answered, no client hung (nothing takes longer than --hang seconds);
  - every watch event for a committed change delivered at least once and in order
    (a first delivery never skips one: re-deliveries of events already seen are fine);
  - every transaction committed whole or failed with EAGAIN;
  - neither daemon died unless killed.

usage: chaos.py [--kills N] [--guests G] [--seed S] [--hang SECONDS] [--keep]
Exit status 0 only with no violation. Environment as for the integration tests
(DXS_STORE, DXS_FRONTEND, DXS_SIMGUEST, SIMXEN_LIB; defaults under build/).
"""

import argparse
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dxstest  # noqa: E402
import simguest  # noqa: E402

# Values of the clients' node paths.
COUNTER = "/chaos/counter"
SEQ_DIR = "/chaos/seq"
UTILS_DIR = "/chaos/utils"


class Violations:
    def __init__(self):
        self.lock = threading.Lock()
        self.found = []

    def add(self, who, what):
        with self.lock:
            self.found.append("%s: %s" % (who, what))
            print("violation: %s: %s" % (who, what), flush=True)

    def __len__(self):
        with self.lock:
            return len(self.found)


class Worker(threading.Thread):
    """One client. step() is one unit of work; it runs until stop is set, and a
    step in progress longer than the hang limit is a hung client."""

    def __init__(self, name, run):
        super().__init__(name=name, daemon=True)
        self.run_ = run
        self.violations = run.violations
        self.stop = threading.Event()
        self.steps = 0
        self.requests = 0
        self.busy_since = None
        self.failed = False

    def setup(self):
        pass

    def step(self):
        raise NotImplementedError

    def verify(self, dom0):
        """At the end, with the pair quiet: what this client's acknowledged work left."""

    def teardown(self):
        """After verify(): closes what the client holds."""

    def violation(self, what):
        self.violations.add(self.name, what)

    def run(self):
        try:
            self.setup()
            while not self.stop.is_set():
                self.busy_since = time.monotonic()
                self.step()
                self.busy_since = None
                self.steps += 1
        except Exception as e:  # noqa: BLE001 - every failure of a client is reported
            self.failed = True
            self.violation("%s: %s" % (type(e).__name__, e))
        finally:
            self.busy_since = None


class EventOrder:
    """Watch events of numbered changes: delivered at least once, first deliveries in
    order. Re-deliveries (after a restart, of events not acknowledged) are allowed."""

    def __init__(self, worker):
        self.worker = worker
        self.seen = set()
        self.highest = 0

    def saw(self, number):
        if number in self.seen:
            return
        if number != self.highest + 1:
            self.worker.violation("event of change %d delivered first after change %d's" %
                                  (number, self.highest))
        self.seen.add(number)
        self.highest = max(self.highest, number)


class Guest(Worker):
    def __init__(self, run, domid):
        super().__init__("guest%d" % domid, run)
        self.domid = domid
        self.g = None
        self.count = 0
        self.writes = 0
        self.tx_value = None
        self.order = EventOrder(self)

    def setup(self):
        run = self.run_
        self.g = simguest.SimGuest(run.simxen_dir, run.socket, self.domid, port=self.domid + 100,
                                   timeout=run.hang)
        self.g.create()
        with dxstest.XsClient(run.socket, timeout=run.hang) as dom0:
            home = "/local/domain/%d" % self.domid
            dom0.mkdir(home)
            dom0.set_perms(home, ["n%d" % self.domid])
        self.g.introduce()
        self.g.watch("ev", "ev")
        self.requests += 3
        self.wait_event(None)

    @staticmethod
    def ev_path(number):
        """A hundred to a directory: a directory's node holds its children's names, and
        node-size (2048 bytes) is a quota like any other."""
        return "ev/%d/k%d" % (number // 100, number)

    def wait_event(self, number):
        """Reads events until the one of change `number` (None: the watch's first)."""
        want = "ev" if number is None else self.ev_path(number)
        while True:
            event = self.g.event(timeout=self.run_.hang)
            if event is None:
                raise TimeoutError("no watch event for %s" % want)
            path, token = event
            if token != "ev":
                continue  # the churn's own watches fire once each as they are set
            if "/k" in path:
                self.order.saw(int(path.rsplit("/k", 1)[1]))
            if path == want:
                return

    def step(self):
        g = self.g
        # Watch, unwatch, count: applied twice, a watch is EEXIST and an unwatch ENOENT.
        g.churn(self.count, 5, "count")
        self.count += 5
        self.requests += 15
        self.writes += 1
        g.write(self.ev_path(self.writes), str(self.writes))
        self.requests += 1
        self.wait_event(self.writes)
        while True:
            tx = g.transaction_start()
            g.write("tx/a", str(self.steps), tx)
            g.write("tx/b", str(self.steps), tx)
            self.requests += 4
            try:
                g.transaction_end(tx)
                self.tx_value = str(self.steps)
                break
            except simguest.GuestError as e:
                if e.name != "EAGAIN":
                    raise

    def verify(self, dom0):
        home = "/local/domain/%d" % self.domid
        if self.count:
            got = dom0.read(home + "/count/value").decode()
            if got != str(self.count):
                self.violation("count/value is %s after %d acknowledged increments" %
                               (got, self.count))
        if self.tx_value is not None:
            a, b = dom0.read(home + "/tx/a").decode(), dom0.read(home + "/tx/b").decode()
            if a != self.tx_value or b != self.tx_value:
                self.violation("transaction left tx/a=%s tx/b=%s, committed %s" %
                               (a, b, self.tx_value))
        present = set()
        for bucket in range(self.writes // 100 + 1) if self.writes else ():
            path = "%s/ev/%d" % (home, bucket)
            if dom0.error_of(dxstest.DIRECTORY, path.encode() + b"\0") is None:
                present.update("%d/%s" % (bucket, n.decode()) for n in dom0.directory(path))
        missing = [i for i in range(1, self.writes + 1) if self.ev_path(i)[3:] not in present]
        if missing:
            self.violation("acknowledged writes lost: %s" % [self.ev_path(i) for i in missing[:5]])

    def teardown(self):
        if self.g is not None:
            self.g.close()


class Toolstack(Worker):
    """A VM's nodes made in one transaction, its devices moved through XenbusState,
    and the whole removed in one transaction, as xl does it."""

    def __init__(self, run):
        super().__init__("toolstack", run)
        self.c = None
        self.created = self.removed = 0
        self.eagain = 0

    def setup(self):
        self.c = dxstest.XsClient(self.run_.socket, timeout=self.run_.hang)

    def nodes(self, n):
        domid = 1000 + n % 50
        dom = "/local/domain/%d" % domid
        vm = "/vm/chaos-%d" % n
        backend = "/local/domain/0/backend/vif/%d/0" % domid
        return domid, dom, vm, backend, {
            dom + "/name": "vm%d" % n,
            dom + "/vm": vm,
            dom + "/device/vif/0/backend": backend,
            dom + "/device/vif/0/state": "1",
            backend + "/frontend": dom + "/device/vif/0",
            backend + "/state": "1",
            vm + "/name": "vm%d" % n,
            vm + "/uuid": "00000000-0000-0000-0000-%012d" % n,
        }

    def transaction(self, body):
        while True:
            tx = self.c.transaction_start()
            self.requests += 2
            body(tx)
            try:
                self.c.transaction_end(tx)
                return
            except dxstest.XsError as e:
                if e.name != "EAGAIN":
                    raise
                self.eagain += 1

    def step(self):
        n = self.steps
        domid, dom, vm, backend, nodes = self.nodes(n)

        def create(tx):
            self.c.mkdir(dom, tx)
            self.c.set_perms(dom, ["n%d" % domid], tx)
            for path, value in nodes.items():
                self.c.write(path, value, tx)
            self.requests += 2 + len(nodes)
        self.transaction(create)
        self.created += 1
        for path, value in nodes.items():
            got = self.c.read(path).decode()
            self.requests += 1
            if got != value:
                self.violation("committed transaction left %s = %r, wrote %r" % (path, got, value))
        for state in ("3", "4"):
            self.c.write(dom + "/device/vif/0/state", state)
            self.c.write(backend + "/state", state)
            self.requests += 2

        def destroy(tx):
            for path in (dom, vm, "/local/domain/0/backend/vif/%d" % domid):
                self.c.rm(path, tx)
            self.requests += 3
        self.transaction(destroy)
        self.removed += 1
        for path in (dom, vm):
            self.requests += 1
            if self.c.error_of(dxstest.READ, path.encode() + b"\0") != "ENOENT":
                self.violation("%s outlived the committed transaction that removed it" % path)

    def verify(self, dom0):
        # Every step ends with its VM removed; the worker stops between steps.
        for n in range(max(0, self.steps - 50), self.steps):
            _, dom, vm, _, _ = self.nodes(n)
            for path in (dom, vm):
                if dom0.error_of(dxstest.READ, path.encode() + b"\0") != "ENOENT":
                    self.violation("%s left behind" % path)

    def teardown(self):
        if self.c is not None:
            self.c.close()


class Counter:
    """The shared counter both counting clients increment in transactions."""

    def __init__(self):
        self.lock = threading.Lock()
        self.commits = 0

    def committed(self):
        with self.lock:
            self.commits += 1


class Sequencer(Worker):
    """Numbered writes under SEQ_DIR, followed by Debian's xenstore-watch, and counter
    increments racing pyxs's."""

    def __init__(self, run, counter):
        super().__init__("sequencer", run)
        self.counter = counter
        self.c = None
        self.watcher = None
        self.printed = queue.Queue()
        self.written = 0
        self.order = EventOrder(self)
        self.order.worker = self
        self.reader = None

    def setup(self):
        run = self.run_
        self.c = dxstest.XsClient(run.socket, timeout=run.hang)
        self.c.write(SEQ_DIR + "/k0", "0")
        self.watcher = subprocess.Popen(["xenstore-watch", SEQ_DIR], env=run.pair.env(),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self.read_watcher, daemon=True)
        self.reader.start()
        self.wait_printed(SEQ_DIR)

    def read_watcher(self):
        for line in self.watcher.stdout:
            self.printed.put(line.decode(errors="replace").strip())
        self.printed.put(None)

    def wait_printed(self, want):
        if want.startswith(SEQ_DIR + "/k") and int(want[len(SEQ_DIR) + 2:]) in self.order.seen:
            return
        deadline = time.monotonic() + self.run_.hang
        while True:
            try:
                line = self.printed.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError("xenstore-watch printed no event for %s" % want)
            if line is None:
                raise ConnectionError("xenstore-watch exited (%s)" % self.watcher.wait())
            if line.startswith(SEQ_DIR + "/k"):
                number = int(line[len(SEQ_DIR) + 2:])
                if number > 0:
                    self.order.saw(number)
            if line == want:
                return

    def step(self):
        self.written += 1
        self.c.write("%s/k%d" % (SEQ_DIR, self.written), str(self.written))
        self.requests += 1
        # The watcher is a separate client: its event may come at any time after the
        # write's reply; wait for it every few writes so that it keeps up.
        if self.written % 4 == 0:
            self.wait_printed("%s/k%d" % (SEQ_DIR, self.written))
        increment(self, self.c)

    def verify(self, dom0):
        self.wait_printed("%s/k%d" % (SEQ_DIR, self.written))
        # One read each: the directory outgrows a reply (4096 bytes) in a long run.
        missing = [i for i in range(1, self.written + 1) if dom0.error_of(
            dxstest.READ, ("%s/k%d" % (SEQ_DIR, i)).encode() + b"\0") is not None]
        if missing:
            self.violation("acknowledged writes lost: k%s" % missing[:5])

    def teardown(self):
        if self.watcher is not None:
            self.watcher.kill()
            self.watcher.wait()
        if self.c is not None:
            self.c.close()


def increment(worker, c):
    """One increment of COUNTER in a transaction, retried on EAGAIN."""
    while True:
        tx = c.transaction_start()
        value = int(c.read(COUNTER, tx))
        c.write(COUNTER, str(value + 1), tx)
        worker.requests += 4
        try:
            c.transaction_end(tx)
            worker.counter.committed()
            return
        except dxstest.XsError as e:
            if e.name != "EAGAIN":
                raise


class Pyxs(Worker):
    def __init__(self, run, counter):
        super().__init__("pyxs", run)
        self.counter = counter
        self.c = None

    def setup(self):
        from pyxs import Client
        self.c = Client(unix_socket_path=self.run_.socket)
        self.c.connect()

    def step(self):
        c = self.c
        while True:
            c.transaction()
            value = int(c.read(COUNTER.encode()))
            c.write(COUNTER.encode(), str(value + 1).encode())
            self.requests += 4
            if c.commit():
                self.counter.committed()
                return

    def teardown(self):
        if self.c is not None:
            self.c.close()


class Utils(Worker):
    """Debian's xenstore-write, one process and connection per write."""

    def __init__(self, run):
        super().__init__("utils", run)
        self.acked = 0
        self.accept_window = 0

    def step(self):
        n = self.acked + 1
        started = time.monotonic()
        p = subprocess.Popen(["xenstore-write", "%s/k%d" % (UTILS_DIR, n), str(n)],
                             env=self.run_.pair.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out, _ = p.communicate(timeout=self.run_.hang)
        self.requests += 1
        if p.returncode != 0:
            if self.run_.lost_in_accept_window(p.pid, started, time.monotonic()):
                self.accept_window += 1
                return  # written again next step, as a new connection
            raise AssertionError("xenstore-write (pid %d) exited %d: %s" % (
                p.pid, p.returncode, out.decode(errors="replace").strip()))
        self.acked = n

    def verify(self, dom0):
        for n in range(1, self.acked + 1):
            got = dom0.error_of(dxstest.READ, ("%s/k%d" % (UTILS_DIR, n)).encode() + b"\0")
            if got is not None:
                self.violation("acknowledged write k%d lost (%s)" % (n, got))
                return


class Chaos:
    def __init__(self, args):
        self.args = args
        self.hang = args.hang
        self.random = random.Random(args.seed)
        self.violations = Violations()
        tmp = os.environ.get("DXS_TEST_TMP", "/tmp")
        self.simxen_dir = None
        self.kills = {"frontend": 0, "store": 0, "both": 0}
        self.frontend_kills = []  # when, monotonic
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = {
            "LD_PRELOAD": simguest.simxen_library(),
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0",
        }
        # The guests' nodes grow all run long; the quota is not what is tested here.
        config = "quota.nodes = 1000000\n"
        os.environ.setdefault("DXS_TEST_TMP", tmp)
        # CHAOS_DEBUG=store,frontend: those daemons log at debug level.
        debug = os.environ.get("CHAOS_DEBUG", "").split(",")
        level = ["--log-level", "debug"]
        self.pair = dxstest.Pair(store_args=level if "store" in debug else [],
                                 frontend_args=["--xen"] + (level if "frontend" in debug else []),
                                 frontend_env=env, config=config, systemd=True)
        self.simxen_dir = os.path.join(self.pair.dir, "machine")
        os.makedirs(self.simxen_dir)
        self.pair.frontend_env["SIMXEN_DIR"] = self.simxen_dir
        self.socket = self.pair.socket
        self.workers = []

    # -- the daemons ------------------------------------------------------------------
    def check_alive(self):
        for name, proc in (("dxs-store", self.pair.store), ("dxs-frontend", self.pair.frontend)):
            if proc.poll() is not None:
                self.violations.add(name, "exited by itself with status %s" % proc.returncode)
                return False
        return True

    def kill(self, what):
        procs = {"frontend": [self.pair.frontend], "store": [self.pair.store],
                 "both": [self.pair.store, self.pair.frontend]}[what]
        self.random.shuffle(procs)
        if self.pair.frontend in procs:
            self.frontend_kills.append(time.monotonic())
        for p in procs:
            p.send_signal(signal.SIGKILL)
        for p in procs:
            p.wait(timeout=dxstest.DEFAULT_TIMEOUT)
        # Down for a while, sometimes: clients connect and write meanwhile.
        if self.random.random() < 0.3:
            time.sleep(self.random.uniform(0, 0.2))
        starts = {"frontend": [self.pair.start_frontend], "store": [self.pair.start_store],
                  "both": [self.pair.start_store, self.pair.start_frontend]}[what]
        self.random.shuffle(starts)
        for start in starts:
            start(wait=False)
        self.kills[what] += 1

    def lost_in_accept_window(self, pid, started, ended):
        """Whether a client's failure is the one window the fd store leaves (docs/design.md,
        "The fd store"): a frontend killed between accept(2) and handing the socket to
        systemd. Then a frontend was killed while the client ran, and systemd never
        received a socket whose peer is that client."""
        if not any(started <= t <= ended for t in self.frontend_kills):
            return False
        return pid not in self.pair.systemd.stored_peer_pids()

    def hung(self):
        now = time.monotonic()
        return [w for w in self.workers if w.busy_since is not None and now - w.busy_since > self.hang]

    def wait_for_progress(self, need):
        """Until `need` clients made a step since, a client failed or hung, or a daemon
        died (False then)."""
        marks = {w: w.steps for w in self.workers}
        while sum(1 for w in self.workers if w.steps > marks[w]) < need:
            if not self.check_alive() or any(w.failed for w in self.workers):
                return False
            for w in self.hung():
                self.violations.add(w.name, "no answer for %.0f s: hung" % self.hang)
                return False
            time.sleep(0.005)
        return True

    # -- the run -------------------------------------------------------------------------
    def run(self):
        a = self.args
        self.pair.start()
        with self.pair.client() as dom0:
            dom0.write(COUNTER, "0")
            dom0.mkdir(UTILS_DIR)
        counter = Counter()
        self.workers = [Guest(self, 1 + i) for i in range(a.guests)]
        self.workers += [Toolstack(self), Sequencer(self, counter), Pyxs(self, counter),
                         Utils(self)]
        self.counter = counter
        for w in self.workers:
            w.start()
        print("chaos: seed %d, %d guests over rings, %d socket clients, %d kills" %
              (a.seed, a.guests, len(self.workers) - a.guests, a.kills), flush=True)
        started = time.monotonic()
        ok = self.wait_for_progress(len(self.workers))
        for k in range(a.kills):
            if not ok:
                break
            time.sleep(self.random.uniform(0, 0.05))
            self.kill(self.random.choice(["frontend", "store", "both"]))
            ok = self.wait_for_progress(max(1, len(self.workers) // 2))
            if a.verbose and (k + 1) % 50 == 0:
                print("  %d kills, %d requests" % (k + 1, self.requests()), flush=True)
        # Quiet now: every client must still get through a step of its own.
        if ok:
            marks = {w: w.steps for w in self.workers}
            deadline = time.monotonic() + self.hang
            while any(w.steps <= marks[w] and not w.failed for w in self.workers):
                if time.monotonic() > deadline:
                    for w in self.workers:
                        if w.steps <= marks[w]:
                            self.violations.add(w.name, "no step done in %.0f s after the kills" %
                                                self.hang)
                    break
                self.check_alive()
                time.sleep(0.01)
        for w in self.workers:
            w.stop.set()
        for w in self.workers:
            w.join(timeout=self.hang)
            if w.is_alive():
                self.violations.add(w.name, "did not finish its step: hung")
        elapsed = time.monotonic() - started
        if self.check_alive():
            self.verify()
        print("kills: %d (frontend %d, store %d, both %d) in %.0f s" % (
            sum(self.kills.values()), self.kills["frontend"], self.kills["store"],
            self.kills["both"], elapsed))
        print("requests: %d answered (%s)" % (self.requests(), ", ".join(
            "%s %d" % (name, n) for name, n in self.requests_by_kind())))
        lost = sum(w.accept_window for w in self.workers if isinstance(w, Utils))
        print("clients whose connection was lost between accept and the fd store: %d "
              "(the one window left, docs/design.md \"The fd store\")" % lost)
        print("violations: %d" % len(self.violations))
        for v in self.violations.found:
            print("  " + v)
        return len(self.violations) == 0

    def verify(self):
        with dxstest.XsClient(self.socket, timeout=self.hang) as dom0:
            for w in self.workers:
                if w.is_alive() or w.failed:
                    continue
                try:
                    w.verify(dom0)
                except Exception as e:  # noqa: BLE001
                    self.violations.add(w.name, "verifying: %s: %s" % (type(e).__name__, e))
            got = int(dom0.read(COUNTER))
            if got != self.counter.commits:
                self.violations.add("counter", "%s is %d after %d committed increments" %
                                    (COUNTER, got, self.counter.commits))

    def requests(self):
        return sum(w.requests for w in self.workers)

    def requests_by_kind(self):
        guests = sum(w.requests for w in self.workers if isinstance(w, Guest))
        return [("guests", guests)] + [(w.name, w.requests) for w in self.workers
                                       if not isinstance(w, Guest)]

    def cleanup(self, keep):
        for w in self.workers:
            w.stop.set()
            try:
                w.teardown()
            except Exception:  # noqa: BLE001 - the client is gone either way
                pass
        if keep or self.violations:
            print("logs kept in %s" % self.pair.dir)
            os.environ["DXS_KEEP_TMP"] = "1"
        self.pair.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--guests", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--hang", type=float, default=60.0,
                        help="a client waiting this long for an answer is hung")
    parser.add_argument("--keep", action="store_true", help="keep the logs and state")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    chaos = Chaos(args)
    try:
        ok = chaos.run()
    finally:
        chaos.cleanup(args.keep)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
