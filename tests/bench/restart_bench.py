"""The restart benchmark (tests/bench/restart.sh runs it): how long after a daemon is
killed and started again its clients are answered again, against the targets of issue 15
("the frontend with 1 000 guest rings and 1 000 sockets under 100 ms, the store with
1 000 000 nodes under 1 s").

Both parts run dxs-store and dxs-frontend --xen on a simulated Xen machine of their own
(libsimxen.so preloaded, SIMXEN_DIR; docs/simxen.md), the frontend run as systemd runs
it (tests/lib/fake_systemd.py: its listening socket by socket activation, every client's
socket and outbox pipe in the fd store, passed back to the next frontend).

- Frontend restart: G simulated guests introduced, each answered once over its ring, and
  S dom0 clients connected, each answered once (restart_bench clients: one process, one
  thread). Then, R times: SIGKILL the frontend; every client and guest sends one WRITE
  of its own node (into its socket, which the fd store holds, or into its ring); start
  the frontend again with the stored descriptors; time from its exec to each answer.
  Then R times again with a READ of that node instead: a change costs the store a
  commit, a read only a lookup.
- Store restart: the tree filled with N nodes shaped as a Xen host's (restart_bench
  populate: /local/domain/<d>/..., dom0's backends, /vm, /libxl; 16-32-byte values). Then,
  R times: W writes overwrite nodes of it (a host at work: RocksDB's WAL then holds what
  a restart must replay, as it would after any busy minute); SIGKILL the store; a dom0
  client of the running frontend sends a WRITE; start the store again; time from its exec
  to the answer. The store's log gives the phases.

"From the exec": restart_bench stamp writes CLOCK_MONOTONIC just before it execs the
daemon in the same process. The time systemd itself takes to notice the death and start
the service (RestartSec=, 100 ms in deploy/systemd) is not counted; neither is the kill.

Output: run.sh's rows on stdout (row<TAB>LABEL<TAB>UNIT<TAB>higher|lower|info<TAB>VALUE),
medians over the R restarts, then a summary for people. --smoke checks that everything
runs, never a timing. Progress goes to stderr.

Environment: DXS_BUILD (default build/), DXS_STORE, DXS_FRONTEND, RESTART_BENCH,
SIMXEN_LIB (default under DXS_BUILD), DXS_TEST_TMP (parent of the temporary directory),
DXS_KEEP_TMP=1 (keep it: logs).
"""

import argparse
import datetime
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

import dxstest  # noqa: E402

BUILD = os.environ.get("DXS_BUILD") or os.path.join(TOP, "build")
FRONTEND_TARGET_MS = 100.0
STORE_TARGET_MS = 1000.0

SIZES = {
    # guests, sockets, nodes, restarts, writes before each kill of the store
    "smoke": (20, 20, 10000, 2, 1000),
    "full": (1000, 1000, 1000000, 5, 30000),
}


def log(message):
    print(message, file=sys.stderr, flush=True)


def busy_percent():
    """How busy the CPUs were over 2 s, in percent (our daemons are not running)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:8]]
        return v[0] + v[1] + v[2] + v[5] + v[6], sum(v)
    busy0, total0 = sample()
    time.sleep(2)
    busy1, total1 = sample()
    return 100.0 * (busy1 - busy0) / max(1, total1 - total0)


def wait_for_idle(limit_s):
    """Waits up to limit_s seconds for the machine to be at least 85% idle; returns how
    busy it was last."""
    start = time.monotonic()
    busy = busy_percent()
    while busy > 15 and time.monotonic() - start < limit_s:
        log("  the machine is %.0f%% busy; waiting for it to calm down" % busy)
        busy = busy_percent()
    return busy


def build_file(env, *parts):
    path = os.environ.get(env) or os.path.join(BUILD, *parts)
    if not os.access(path, os.R_OK):
        raise SystemExit("restart_bench.py: %s not found (meson compile -C build bench, or set %s)"
                         % (path, env))
    return os.path.abspath(path)


def read_stamp(path):
    """(CLOCK_MONOTONIC, CLOCK_REALTIME) in seconds, as restart_bench stamp wrote them
    just before the exec."""
    with open(path) as f:
        mono, real = f.read().split()
    return int(mono) / 1e9, int(real) / 1e9


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (dxs-[a-z]+) [DIWE]: (.*)$")


def log_since(path, real_start):
    """(seconds after real_start, message) of the daemon log's lines written since then.
    The log's times are local wall-clock time in milliseconds, cut (not rounded): a
    line can appear up to 1 ms earlier than it was written."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LOG_LINE.match(line.rstrip("\n"))
            if not m:
                continue
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            if t + 0.001 >= real_start:
                out.append((t - real_start, m.group(3)))
    return out


def first_at(lines, pattern, last=False):
    """Milliseconds after the exec of the first (or last) line matching pattern, or None."""
    found = [t for t, message in lines if re.search(pattern, message)]
    if not found:
        return None
    return 1000.0 * max(0.0, found[-1] if last else found[0])


class Instance:
    """dxs-store and dxs-frontend --xen on a fresh simxen machine, the frontend run as
    systemd runs it; either can be killed and started again from an exec stamp."""

    def __init__(self, bench):
        self.bench = bench
        base = os.environ.get("DXS_TEST_TMP", "/tmp")
        os.makedirs(base, exist_ok=True)
        # The pair's directory is created by Pair; the machine is put inside it.
        asan = os.environ.get("ASAN_OPTIONS", "")
        self.frontend_env = {
            "LD_PRELOAD": build_file("SIMXEN_LIB", "tests", "simxen", "libsimxen.so"),
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0",
        }
        self.pair = dxstest.Pair(frontend_args=["--xen"], frontend_env=self.frontend_env,
                                 systemd=True)
        self.simxen_dir = os.path.join(self.pair.dir, "machine")
        for sub in ("dom", "ring", "evtchn"):
            os.makedirs(os.path.join(self.simxen_dir, sub), exist_ok=True)
        self.pair.frontend_env["SIMXEN_DIR"] = self.simxen_dir
        self.stamp = os.path.join(self.pair.dir, "exec.stamp")

    def start(self):
        self.pair.start()
        return self

    def cleanup(self):
        self.pair.cleanup()

    def restart_frontend(self):
        """Starts the frontend again as systemd would, the fd store's descriptors passed."""
        p = self.pair
        argv = [dxstest.binary("dxs-frontend"), "--store", "unix:" + p.store_sock,
                "--socket", p.socket, "--config", p.config] + p.frontend_args
        env = dict(os.environ, **p.frontend_env)
        with open(p.frontend_log, "a") as out:
            p.frontend = p.systemd.popen([self.bench, "stamp", self.stamp] + argv, env=env,
                                         stdout=out, stderr=subprocess.STDOUT)

    def restart_store(self):
        p = self.pair
        if os.path.exists(p.ops_sock):
            os.unlink(p.ops_sock)
        argv = [dxstest.binary("dxs-store"), "--state-dir", p.state_dir,
                "--listen", "unix:" + p.store_sock, "--ops-listen", "unix:" + p.ops_sock,
                "--config", p.config] + p.store_args
        with open(p.store_log, "a") as out:
            p.store = subprocess.Popen([self.bench, "stamp", self.stamp] + argv,
                                       stdout=out, stderr=subprocess.STDOUT)

    def wait_stored(self, sockets):
        """Until the fd store holds exactly `sockets` client sockets and as many outboxes
        (the probes Pair.start made are closed and removed by then)."""
        fake = self.pair.systemd
        dxstest.wait_until(lambda: fake.count_prefix("conn-") == sockets and
                           fake.count_prefix("out-") == sockets, timeout=60,
                           what="%d client sockets and outboxes in the fd store" % sockets)


class Clients:
    """restart_bench clients: the guests and the socket clients, in one process."""

    def __init__(self, bench, inst, guests, sockets):
        self.errors_path = os.path.join(inst.pair.dir, "clients.err")
        with open(self.errors_path, "w") as errors:
            self.proc = subprocess.Popen(
                [bench, "clients", "--simxen-dir", inst.simxen_dir, "--socket", inst.pair.socket,
                 "--guests", str(guests), "--sockets", str(sockets), "--timeout", "60"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)
        self.expect("ready")

    def line(self):
        text = self.proc.stdout.readline()
        if not text:
            self.proc.wait()
            with open(self.errors_path, errors="replace") as f:
                errors = f.read().strip()[-2000:]
            raise RuntimeError("restart_bench clients exited with %s: %s"
                               % (self.proc.returncode, errors))
        return text.rstrip("\n")

    def expect(self, word):
        got = self.line()
        if got != word:
            raise RuntimeError("restart_bench clients said %r, not %r" % (got, word))

    def send(self, round_, op):
        """Every client sends its request (op: write or read); returns once they are
        written."""
        self.proc.stdin.write("send %d %s\n" % (round_, op))
        self.proc.stdin.flush()
        self.expect("sent")

    def answers(self):
        """(socket answer times, ring answer times), CLOCK_MONOTONIC seconds."""
        times = {}
        while True:
            text = self.line()
            if text == "done":
                return times.get("sockets", []), times.get("rings", [])
            what, *values = text.split()
            times[what] = [int(v) / 1e9 for v in values]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def row(label, unit, better, value):
    fmt = "%.0f" if isinstance(value, int) else "%.2f"
    print("row\t%s\t%s\t%s\t%s" % (label, unit, better, fmt % value), flush=True)


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def frontend_restart(bench, guests, sockets, restarts, keep):
    """The frontend part: R restarts with a WRITE from every client, then R with a READ.
    Returns its rows (label, unit, better, value) and the rounds, by request."""
    inst = Instance(bench).start()
    clients = None
    rounds = {"WRITE": [], "READ": []}
    try:
        log("frontend: %d guests and %d socket clients (set-up)" % (guests, sockets))
        clients = Clients(bench, inst, guests, sockets)
        r = 0
        for op in rounds:
            for _ in range(restarts):
                r += 1
                inst.wait_stored(sockets)
                inst.pair.kill_frontend(signal.SIGKILL)
                clients.send(r, op.lower())
                inst.restart_frontend()
                socket_at, ring_at = clients.answers()
                mono, real = read_stamp(inst.stamp)
                lines = log_since(inst.pair.frontend_log, real)
                s = [1000.0 * (t - mono) for t in socket_at]
                g = [1000.0 * (t - mono) for t in ring_at]
                result = {
                    "sockets_last": max(s) if s else None,
                    "sockets_median": statistics.median(s) if s else None,
                    "rings_last": max(g) if g else None,
                    "rings_median": statistics.median(g) if g else None,
                    "all": max(s + g),
                    "first": min(s + g),
                    # The frontend's own log: where the time before the answers went.
                    "log_first": first_at(lines, r"."),
                    "log_attached": first_at(lines, r"^attached to the store"),
                    "log_resumed": first_at(lines, r"socket connections of the previous frontend"),
                    "log_last_ring": first_at(lines, r"guest rings of the previous frontend served again"),
                }
                rounds[op].append(result)
                log("  restart %d, a %s each: all answered %.1f ms after the exec (sockets %.1f, "
                    "rings %.1f)" % (r, op, result["all"], result["sockets_last"] or 0,
                                     result["rings_last"] or 0))
    except Exception:
        keep[0] = True
        log("frontend part FAILED; logs kept in %s" % inst.pair.dir)
        raise
    finally:
        if clients is not None:
            clients.close()
        cleanup(inst, keep[0])

    rows = []
    for op, results in rounds.items():
        med = lambda key: median_or_none([x[key] for x in results])  # noqa: E731
        what = "frontend restart, %d guest rings + %d sockets, a %s each" % (guests, sockets, op)
        rows += [
            (what + ": every client answered", "ms", "lower", med("all")),
            (what + ": the first client answered", "ms", "info", med("first")),
            (what + ": against the target (%.0f ms)" % FRONTEND_TARGET_MS, "ratio", "lower",
             med("all") / FRONTEND_TARGET_MS),
            (what + ": last socket client answered", "ms", "lower", med("sockets_last")),
            (what + ": median socket client answered", "ms", "info", med("sockets_median")),
            (what + ": last guest answered", "ms", "lower", med("rings_last")),
            (what + ": median guest answered", "ms", "info", med("rings_median")),
            (what + ": its first log line (Xen's libraries open)", "ms", "info", med("log_first")),
            (what + ": last ring served again (log)", "ms", "info", med("log_last_ring")),
            (what + ": sockets resumed (log)", "ms", "info", med("log_resumed")),
            (what + ": attached to the store (log)", "ms", "info", med("log_attached")),
        ]
    return [r for r in rows if r[3] is not None], rounds


def populate(bench, inst, nodes, *extra):
    """restart_bench populate's key=value results."""
    out = subprocess.run([bench, "populate", "--socket", inst.pair.socket, "--nodes", str(nodes)]
                         + list(extra), capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError("restart_bench populate failed: " + out.stderr.strip())
    return {k: float(v) for k, v in (line.split("=") for line in out.stdout.split())}


def store_restart(bench, nodes, restarts, writes, keep):
    """The store part; returns its rows and the rounds."""
    inst = Instance(bench).start()
    rounds = []
    rewrite_rates = []
    client = None
    try:
        log("store: filling the tree with %d nodes (set-up)" % nodes)
        setup = populate(bench, inst, nodes)
        log("  %d nodes (%d domains) in %.1f s"
            % (setup["nodes"], setup["domains"], setup["seconds"]))
        client = dxstest.XsClient(inst.pair.socket, timeout=60)
        client.request(dxstest.GET_DOMAIN_PATH, b"0\0")
        for r in range(1, restarts + 1):
            if writes > 0:
                busy = populate(bench, inst, nodes, "--writes", str(writes), "--tag", "r%d" % r)
                rewrite_rates.append(busy["writes"] / busy["seconds"])
            inst.pair.kill_store(signal.SIGKILL)
            setup["disk_bytes"] = du(inst.pair.state_dir)
            wal = du(inst.pair.state_dir, suffix=".log")
            req_id = client.send(dxstest.WRITE, b"/local/domain/1/data/restart\0round-%d" % r)
            inst.restart_store()
            reply = client.reply()
            answered = time.monotonic()
            if reply.type != dxstest.WRITE or reply.req_id != req_id:
                raise RuntimeError("the WRITE after the store's restart was answered %r" % reply)
            mono, real = read_stamp(inst.stamp)
            lines = log_since(inst.pair.store_log, real)
            result = {
                "wal_mib": wal / 1048576.0,
                "answered": 1000.0 * (answered - mono),
                "log_opened": first_at(lines, r"^state in "),
                "log_recovered": first_at(lines, r"^recovered: "),
                "log_listening": first_at(lines, r"^serving the frontend session"),
                "log_attached": first_at(lines, r"^frontend attached"),
            }
            rounds.append(result)
            log("  restart %d: answered %.1f ms after the exec" % (r, result["answered"]))
    except Exception:
        keep[0] = True
        log("store part FAILED; logs kept in %s" % inst.pair.dir)
        raise
    finally:
        if client is not None:
            client.close()
        cleanup(inst, keep[0])

    med = lambda key: median_or_none([x[key] for x in rounds])  # noqa: E731
    what = "store restart, %d nodes" % setup["nodes"]
    rows = [
        (what + ": a request through the frontend answered", "ms", "lower", med("answered")),
        (what + ": against the target (%.0f ms)" % STORE_TARGET_MS, "ratio", "lower",
         med("answered") / STORE_TARGET_MS),
        (what + ": RocksDB open (log: state in)", "ms", "info", med("log_opened")),
        (what + ": state recovered (log)", "ms", "info", med("log_recovered")),
        (what + ": listening for the frontend (log)", "ms", "info", med("log_listening")),
        (what + ": frontend attached (log)", "ms", "info", med("log_attached")),
        (what + ": RocksDB's WAL at the kill (%d writes before it)" % writes, "MiB", "info",
         med("wal_mib")),
        ("(set-up) store: filling the tree, 4 connections pipelined", "writes/s", "info",
         setup["writes"] / setup["seconds"]),
        ("(set-up) store: overwriting nodes of the tree before each kill", "writes/s", "info",
         median_or_none(rewrite_rates)),
        ("(set-up) store: state on disk", "MiB", "info", setup["disk_bytes"] / 1048576.0),
    ]
    return [r for r in rows if r[3] is not None], rounds


def du(path, suffix=""):
    """Bytes in the files below path (whose names end in suffix)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            if not name.endswith(suffix):
                continue
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def cleanup(inst, keep):
    if keep:
        os.environ["DXS_KEEP_TMP"] = "1"
    inst.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes (20 rings, 20 sockets, 10 000 nodes), 2 restarts each: "
                             "checks that it runs, never a timing")
    parser.add_argument("--guests", type=int, help="simulated guests over rings (full: 1000)")
    parser.add_argument("--sockets", type=int, help="dom0 socket clients (full: 1000)")
    parser.add_argument("--nodes", type=int, help="nodes in the store's tree (full: 1000000)")
    parser.add_argument("--restarts", type=int, help="restarts of each daemon (full: 5); "
                        "the median is reported")
    parser.add_argument("--writes", type=int, help="nodes overwritten before each kill of the "
                        "store (full: 30000)")
    parser.add_argument("--only", choices=["frontend", "store"], help="run one part only")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="S",
                        help="before each part, wait up to S seconds for the machine to be "
                             "at least 85%% idle")
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "full"
    guests, sockets, nodes, restarts, writes = SIZES[mode]
    guests = guests if args.guests is None else args.guests
    sockets = sockets if args.sockets is None else args.sockets
    nodes = nodes if args.nodes is None else args.nodes
    restarts = restarts if args.restarts is None else args.restarts
    writes = writes if args.writes is None else args.writes
    if min(guests, sockets, writes) < 0 or guests + sockets == 0 or min(nodes, restarts) < 1:
        parser.error("sizes must be positive (guests + sockets at least 1)")

    bench = build_file("RESTART_BENCH", "tests", "bench", "restart_bench")
    dxstest.binary("dxs-store")
    dxstest.binary("dxs-frontend")
    # Each stored client costs the fake systemd, the frontend and the clients a descriptor
    # or two; they inherit this limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * (guests + sockets) + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    keep = [bool(os.environ.get("DXS_KEEP_TMP"))]
    load_start = os.getloadavg()[0]
    rows = []
    notes = []
    frontend_rounds, store_rounds = {}, []
    if args.only in (None, "frontend"):
        if args.wait_idle > 0:
            notes.append("the machine was %.0f%% busy before the frontend part"
                         % wait_for_idle(args.wait_idle))
        got, frontend_rounds = frontend_restart(bench, guests, sockets, restarts, keep)
        rows += got
    if args.only in (None, "store"):
        if args.wait_idle > 0:
            notes.append("the machine was %.0f%% busy before the store part"
                         % wait_for_idle(args.wait_idle))
        got, store_rounds = store_restart(bench, nodes, restarts, writes, keep)
        rows += got
    load_end = os.getloadavg()[0]

    for label, unit, better, value in rows:
        row(label, unit, better, value)

    try:  # a user's copy may have no git, or no .git (tests/fresh.sh copies files alone)
        commit = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                                capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        commit = "?"
    print()
    print("dxs restart benchmark, mode %s (median of %d restarts each)" % (mode, restarts))
    now = datetime.datetime.now(datetime.timezone.utc)
    print("date:    %s" % now.strftime("%Y-%m-%d %H:%M UTC"))
    print("machine: %d cores, Linux %s; 1-minute load average %.2f at the start, %.2f at the end"
          % (os.cpu_count(), os.uname().release, load_start, load_end))
    print("dxs:     %s at %s, binaries from %s" % (TOP, commit, BUILD))
    print("peers:   n/a: C xenstored and oxenstored lose their state when killed (C xenstored")
    print("         keeps its database in memory by default, Debian's oxenstored persists")
    print("         nothing) and their connections; their live update is a planned")
    print("         handover, not a restart after a crash.")
    print()
    width = max([len(label) for label, _, _, _ in rows] + [0])
    for label, unit, better, value in rows:
        print("  %-*s %10.2f %s" % (width, label, value, unit))
    def ms(x):
        return "-" if x is None else "%.1f" % x

    for op, results in frontend_rounds.items():
        print()
        print("frontend, each restart with a %s from every client, ms after the exec:" % op)
        print("first log line / last ring served / sockets resumed / attached / first")
        print("client answered / last socket answered / last guest answered")
        for i, r in enumerate(results, 1):
            print("  %d: %s" % (i, " / ".join(ms(r[k]) for k in (
                "log_first", "log_last_ring", "log_resumed", "log_attached", "first",
                "sockets_last", "rings_last"))))
    if store_rounds:
        print()
        print("store, each restart, ms after the exec: RocksDB open / recovered / listening /")
        print("frontend attached / the request answered; and the WAL replayed")
        for i, r in enumerate(store_rounds, 1):
            print("  %d: %s; %.1f MiB" % (i, " / ".join(ms(r[k]) for k in (
                "log_opened", "log_recovered", "log_listening", "log_attached", "answered")),
                r["wal_mib"]))
    for note in notes:
        print("note: " + note)
    if mode == "smoke":
        print("\n(smoke: tiny sizes; it checks that the benchmark runs, the figures mean nothing)")
    else:
        print()
        for label, unit, _better, value in rows:
            if unit == "ratio":
                print("%s: %.2f of the target: %s" % (label.split(":")[0], value,
                                                      "met" if value < 1 else "NOT met"))


if __name__ == "__main__":
    main()
