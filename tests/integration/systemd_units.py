"""The systemd units in deploy/ (docs/deployment.md), as meson installs them: systemd's own
`systemd-analyze verify` finds nothing to say about them, the settings crash-only rests on
are there (Type=notify, a watchdog, Restart=always, the frontend's fd store, the client
socket, either daemon restarting alone, the store not running as root), the hardening
does not slip (`systemd-analyze security --offline`), and sysusers.d/tmpfiles.d make the
user and directories the store runs with. Needs no running systemd: the units are copied
with ExecStart= pointing at the build's binaries and checked as files.

Environment: DXS_UNITS (the build's deploy/ directory, where meson writes the units),
DXS_STORE, DXS_FRONTEND (the binaries)."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import dxstest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "..", "deploy", "systemd")
UNITS_DIR = os.environ.get("DXS_UNITS") or os.path.join(HERE, "..", "..", "build", "deploy")
UNITS = ["dxs-store.service", "dxs-frontend.service", "dxs-frontend.socket"]
BINARIES = {"dxs-store.service": "dxs-store", "dxs-frontend.service": "dxs-frontend"}
# systemd-analyze security's overall exposure, in tenths (what --threshold takes): the
# values docs/deployment.md records, rounded up. A unit that loses some hardening fails.
EXPOSURE_MAX = {"dxs-store.service": 3, "dxs-frontend.service": 15}


def parse(text):
    """{section: [(key, value)]}, every assignment in order (keys repeat in units)."""
    sections, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            raise ValueError("not an assignment: %r" % line)
        current.append((key.strip(), value.strip()))
    return sections


def values(unit, section, key):
    return [v for k, v in unit.get(section, []) if k == key]


def value(unit, section, key):
    found = values(unit, section, key)
    return found[-1] if found else None


def seconds(text):
    """A systemd time span of the forms the units use: 30s, 100ms, 2min, 10."""
    m = re.fullmatch(r"(\d+)\s*(ms|s|min)?", text or "")
    if not m:
        return None
    return int(m.group(1)) * {"ms": 0.001, None: 1, "s": 1, "min": 60}[m.group(2)]


class Units:
    """The installed units copied into a directory of their own, ExecStart= rewritten from
    the installed binaries' paths to the build's."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dxs-units-")
        self.text = {}
        for name in UNITS:
            with open(os.path.join(UNITS_DIR, name), encoding="utf-8") as f:
                text = f.read()
            if name in BINARIES:
                binary = BINARIES[name]
                text, n = re.subn(r"(?m)^ExecStart=\S*/%s\b" % re.escape(binary),
                                  "ExecStart=" + dxstest.binary(binary), text)
                if n != 1:
                    raise AssertionError("%s: no ExecStart= of %s to point at the build"
                                         % (name, binary))
            self.text[name] = text
            self.write(name, text)

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w", encoding="utf-8") as f:
            f.write(text)

    def paths(self):
        return [os.path.join(self.dir, name) for name in UNITS]

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def verify(paths):
    """What `systemd-analyze verify` says about the units: every warning, whatever the
    exit status (an unknown key or a bad value is only a warning to it), or ''."""
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *paths], capture_output=True,
                       text=True, timeout=60)
    said = (r.stdout + r.stderr).strip()
    if r.returncode != 0 and not said:
        said = "systemd-analyze verify exited %d" % r.returncode
    return said


class SystemdUnits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("systemd-analyze") is None:
            raise RuntimeError("systemd-analyze not found (Debian's systemd; "
                               "deploy/install-deps.sh --tests installs it)")
        cls.units = Units()
        cls.parsed = {name: parse(text) for name, text in cls.units.text.items()}

    @classmethod
    def tearDownClass(cls):
        cls.units.remove()

    def test_verify_says_nothing(self):
        self.assertEqual(verify(self.units.paths()), "")

    def test_verify_catches_a_broken_unit(self):
        # The check above is only worth something if a broken unit makes verify speak.
        breakages = {
            "dxs-store.service": ("[Service]\n", "[Service]\nWatchdogSecs=30s\n"),
            "dxs-frontend.service": ("Type=notify", "Type=notfy"),
            "dxs-frontend.socket": ("ListenStream=/run/xenstored/socket",
                                    "ListenStream=run/xenstored/socket"),
        }
        for name, (old, new) in breakages.items():
            with self.subTest(unit=name):
                broken = Units()
                try:
                    self.assertIn(old, broken.text[name])
                    broken.write(name, broken.text[name].replace(old, new, 1))
                    self.assertIn(name, verify(broken.paths()))
                finally:
                    broken.remove()
        broken = Units()
        try:
            text = broken.text["dxs-store.service"]
            broken.write("dxs-store.service",
                         re.sub(r"(?m)^ExecStart=.*$", "ExecStart=/nonexistent/dxs-store", text))
            self.assertIn("/nonexistent/dxs-store", verify(broken.paths()))
        finally:
            broken.remove()

    def test_both_daemons_notify_ping_and_come_back(self):
        for name in BINARIES:
            with self.subTest(unit=name):
                unit = self.parsed[name]
                self.assertEqual(value(unit, "Service", "Type"), "notify")
                watchdog = seconds(value(unit, "Service", "WatchdogSec"))
                self.assertTrue(watchdog, "no WatchdogSec=")
                self.assertEqual(value(unit, "Service", "Restart"), "always")
                # systemd gives up on a unit restarted 5 times in 10 s unless told not to.
                self.assertEqual(value(unit, "Unit", "StartLimitIntervalSec"), "0")
                self.assertIsNone(value(unit, "Service", "KillMode"),
                                  "crash-only: stop kills every process of the unit")

    def test_frontend_keeps_its_sockets(self):
        unit = self.parsed["dxs-frontend.service"]
        self.assertGreaterEqual(int(value(unit, "Service", "FileDescriptorStoreMax") or 0), 1024)
        # not in systemd 252 (Debian 12): it would be a warning there, and ignored
        self.assertIsNone(value(unit, "Service", "FileDescriptorStorePreserve"))
        socket = self.parsed["dxs-frontend.socket"]
        self.assertEqual(values(socket, "Socket", "ListenStream"), ["/run/xenstored/socket"])
        self.assertEqual(value(socket, "Socket", "Service") or "dxs-frontend.service",
                         "dxs-frontend.service")
        self.assertEqual(value(socket, "Socket", "SocketMode"), "0600")

    def test_either_restarts_alone(self):
        frontend = self.parsed["dxs-frontend.service"]
        store = self.parsed["dxs-store.service"]
        self.assertIn("dxs-store.service", " ".join(values(frontend, "Unit", "Wants")).split())
        self.assertIn("dxs-store.service", " ".join(values(frontend, "Unit", "After")).split())
        # These would stop or restart one daemon with the other.
        for unit, other in ((frontend, "dxs-store.service"), (store, "dxs-frontend")):
            for key in ("Requires", "Requisite", "BindsTo", "PartOf", "Upholds", "PropagatesStopTo",
                        "StopPropagatedFrom", "Conflicts"):
                for v in values(unit, "Unit", key):
                    self.assertNotIn(other, v, "%s=%s" % (key, v))

    def test_store_runs_unprivileged(self):
        store = self.parsed["dxs-store.service"]
        self.assertEqual(value(store, "Service", "User"), "dxs")
        self.assertEqual(value(store, "Service", "Group"), "dxs")
        self.assertEqual(value(store, "Service", "CapabilityBoundingSet"), "")
        self.assertEqual(value(store, "Service", "RestrictAddressFamilies"), "AF_UNIX")
        self.assertEqual(value(store, "Service", "PrivateDevices"), "yes")
        frontend = self.parsed["dxs-frontend.service"]
        self.assertEqual(value(frontend, "Service", "DevicePolicy"), "closed")
        allowed = [v.split()[0] for v in values(frontend, "Service", "DeviceAllow")]
        self.assertTrue(allowed and all(d.startswith("/dev/xen/") for d in allowed), allowed)

    def test_hardening_does_not_slip(self):
        for name, threshold in EXPOSURE_MAX.items():
            with self.subTest(unit=name):
                path = os.path.join(self.units.dir, name)
                r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                                    "--threshold=%d" % threshold, path],
                                   capture_output=True, text=True, timeout=60)
                m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", r.stdout)
                self.assertIsNotNone(m, r.stdout + r.stderr)
                self.assertEqual(r.returncode, 0, "%s: exposure %s, over %.1f\n%s"
                                 % (name, m.group(1), threshold / 10, r.stdout))

    def test_sysusers_and_tmpfiles_make_the_user_and_directories(self):
        root = tempfile.mkdtemp(prefix="dxs-root-")
        try:
            os.mkdir(os.path.join(root, "etc"))
            subprocess.run(["systemd-sysusers", "--root=" + root,
                            os.path.join(SOURCE, "dxs.sysusers")],
                           check=True, capture_output=True, timeout=60)
            with open(os.path.join(root, "etc", "passwd"), encoding="utf-8") as f:
                entry = [line.split(":") for line in f if line.startswith("dxs:")]
            self.assertEqual(len(entry), 1)
            uid = int(entry[0][2])
            self.assertNotEqual(uid, 0)
            subprocess.run(["systemd-tmpfiles", "--root=" + root, "--create",
                            os.path.join(SOURCE, "dxs.tmpfiles")],
                           check=True, capture_output=True, timeout=60)
            for path, mode in (("run/dxs", 0o750), ("var/lib/dxs", 0o700)):
                st = os.stat(os.path.join(root, path))
                self.assertEqual((oct(st.st_mode & 0o7777), st.st_uid), (oct(mode), uid), path)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
