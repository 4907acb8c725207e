"""Plays systemd's part for dxs-frontend, exactly as systemd's documented protocols have it:

- the notification socket (sd_notify(3)): a datagram socket at NOTIFY_SOCKET receiving
  "READY=1", "FDSTORE=1" with "FDNAME=" and the descriptors as SCM_RIGHTS, and
  "FDSTOREREMOVE=1" with "FDNAME=";
- the file-descriptor store (FileDescriptorStoreMax=): what was stored is kept across the
  process's death and passed to the next one, except a descriptor that polls POLLHUP or
  POLLERR, which systemd closes and forgets (a socket whose peer is gone, a pipe's read
  end with no writer left);
- socket activation (sd_listen_fds(3)): the listening socket, created here, and the stored
  descriptors passed from fd 3 on, with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID.

A thread receives notifications as systemd does, at once: the notification socket's
queue is short (net.unix.max_dgram_qlen), and a service's sd_notify() blocks while it is
full. A test synchronises on what arrived: wait_until(lambda: fake.count_prefix("conn-")).
"""

import array
import fcntl
import os
import socket
import select
import struct
import subprocess
import threading

LISTEN_FDS_START = 3
MAX_FDS_PER_MESSAGE = 253  # SCM_MAX_FD


class FakeSystemd:
    def __init__(self, directory, listen_path=None, listen_name="xenstored"):
        self.notify_path = os.path.join(directory, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.setblocking(False)
        # name -> list of fds, in the order stored (systemd keeps duplicates of a name).
        self.store = {}
        # The pids at the other end of every socket ever stored (SO_PEERCRED).
        self.peer_pids = set()
        self.ready = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.receiver = threading.Thread(target=self._receive, daemon=True)
        self.listen = None
        self.listen_name = listen_name
        if listen_path is not None:
            if os.path.exists(listen_path):
                os.unlink(listen_path)
            self.listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listen.bind(listen_path)
            self.listen.listen(1024)
        self.receiver.start()

    def _receive(self):
        while not self.stopping:
            if select.select([self.notify], [], [], 0.1)[0]:
                self.drain()

    def close(self):
        self.stopping = True
        self.receiver.join()
        self.drain()
        for fds in self.store.values():
            for fd in fds:
                os.close(fd)
        self.store.clear()
        self.notify.close()
        if self.listen is not None:
            self.listen.close()

    # -- the notification socket -------------------------------------------------
    def drain(self):
        """Handles every notification queued now; returns how many."""
        with self.lock:
            n = self._drain_locked()
            self._drop_hung_up_locked()
            return n

    def _drop_hung_up_locked(self):
        poller = select.poll()
        for fds in self.store.values():
            for fd in fds:
                poller.register(fd, select.POLLIN)
        gone = {fd for fd, events in poller.poll(0) if events & (select.POLLHUP | select.POLLERR)}
        if self.listen is not None:
            gone.discard(self.listen.fileno())
        for name in list(self.store):
            kept = [fd for fd in self.store[name] if fd not in gone]
            for fd in self.store[name]:
                if fd in gone:
                    os.close(fd)
            if kept:
                self.store[name] = kept
            else:
                del self.store[name]

    def _drain_locked(self):
        n = 0
        while True:
            fds = array.array("i")
            try:
                data, ancdata, _flags, _addr = self.notify.recvmsg(
                    4096, socket.CMSG_SPACE(MAX_FDS_PER_MESSAGE * fds.itemsize))
            except BlockingIOError:
                return n
            n += 1
            for level, kind, cdata in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(cdata[:len(cdata) - (len(cdata) % fds.itemsize)])
            self._handle(data.decode(errors="replace"), list(fds))

    def _handle(self, text, fds):
        fields = {}
        for line in text.split("\n"):
            if "=" in line:
                key, value = line.split("=", 1)
                fields[key] = value
        name = fields.get("FDNAME", "stored")
        if fields.get("READY") == "1":
            self.ready += 1
        if fields.get("FDSTOREREMOVE") == "1":
            for fd in self.store.pop(name, []):
                os.close(fd)
        for fd in fds:
            os.set_inheritable(fd, False)
        if fields.get("FDSTORE") == "1":
            for fd in fds:
                try:
                    cred = socket.socket(fileno=os.dup(fd))
                    try:
                        pid, _, _ = struct.unpack("3i", cred.getsockopt(
                            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
                        self.peer_pids.add(pid)
                    finally:
                        cred.close()
                except OSError:
                    pass  # not a connected socket (an outbox pipe)
            self.store.setdefault(name, []).extend(fds)
            fds = []
        for fd in fds:  # descriptors sent without FDSTORE=1 are not kept
            os.close(fd)

    def names(self):
        self.drain()
        with self.lock:
            return sorted(self.store)

    def fds_named(self, name):
        """The descriptors stored under name, oldest first."""
        self.drain()
        with self.lock:
            return list(self.store.get(name, []))

    def stored_peer_pids(self):
        """The pids of the clients whose sockets were ever stored."""
        self.drain()
        with self.lock:
            return set(self.peer_pids)

    def count_prefix(self, prefix):
        self.drain()
        with self.lock:
            return sum(len(fds) for name, fds in self.store.items() if name.startswith(prefix))

    # -- starting the service ------------------------------------------------------
    def passed(self):
        """(name, fd) of everything the next process gets, in LISTEN_FDS order.
        REQUIRES: self.lock."""
        out = []
        if self.listen is not None:
            out.append((self.listen_name, self.listen.fileno()))
        for name in sorted(self.store):
            if self.listen is not None and name == self.listen_name:
                continue  # socket activation passes the unit's own socket
            for fd in self.store[name]:
                out.append((name, fd))
        return out

    def popen(self, argv, env=None, **kwargs):
        """Starts argv as systemd would start the service: NOTIFY_SOCKET, and the
        listening socket and stored fds from fd 3 on. LISTEN_PID must be the service's
        own pid, known only after fork: a shell sets it and execs the service."""
        with self.lock:
            self._drain_locked()
            self._drop_hung_up_locked()
            passed = self.passed()
        env = dict(os.environ if env is None else env)
        env["NOTIFY_SOCKET"] = self.notify_path
        if passed:
            env["LISTEN_FDS"] = str(len(passed))
            env["LISTEN_FDNAMES"] = ":".join(name for name, _ in passed)
        else:
            env.pop("LISTEN_FDS", None)
            env.pop("LISTEN_FDNAMES", None)
        env.pop("LISTEN_PID", None)
        sources = [fd for _, fd in passed]
        targets = range(LISTEN_FDS_START, LISTEN_FDS_START + len(passed))

        def arrange():
            # Out of the way first, so that no source is overwritten before it is moved.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 1000) for fd in sources]
            for fd, target in zip(high, targets):
                os.dup2(fd, target, inheritable=True)
            for fd in high:
                os.close(fd)

        wrapper = ['/bin/sh', '-c', 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"']
        if not passed:
            wrapper = []
        # Not close_fds: the descriptors arranged in the child are its inheritable ones
        # (everything this process holds is close-on-exec, as Python opens it).
        return subprocess.Popen(wrapper + list(argv), env=env, preexec_fn=arrange,
                                close_fds=False, **kwargs)
