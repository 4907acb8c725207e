"""Differential test: the corpus of tests/differential/corpus replayed against dxs and
compared with what C xenstored answered (tests/differential/recorded, made by
tests/differential/record.py; no C daemon is needed here).

Each script runs on a fresh pair, several pairs at a time, so scripts cannot leak state
into each other. A step marked `~ anchor: reply` in the corpus is a documented deviation
(docs/deviations.md#anchor): dxs must give that reply there. A step marked `~ bug:` is a
known dxs bug: a difference there is reported on stderr but does not fail the test.
"""

import concurrent.futures
import os
import random
import sys
import unittest

import dxstest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "differential"))
import xsdiff  # noqa: E402

JOBS = int(os.environ.get("DXS_DIFF_JOBS", "0")) or max(2, (os.cpu_count() or 2) * 2)


def run_on_dxs(script):
    """Runs script against a fresh pair; returns (result, problem): problem is "" or
    what went wrong (a daemon that died, with the pair's logs; a pair that did not
    start), and result is None if the script could not run at all."""
    try:
        with dxstest.Pair() as pair:
            result = xsdiff.run_script(script, pair.socket)
            alive = pair.store.poll() is None and pair.frontend.poll() is None
            return result, ("" if alive else "a dxs process died:\n" + pair.logs())
    except (OSError, RuntimeError, TimeoutError) as e:
        return None, "could not run: %s" % e


class Differential(unittest.TestCase):
    """One test per corpus file; all scripts of all files are run once, in parallel."""

    results = None

    @classmethod
    def setUpClass(cls):
        cls.corpus = xsdiff.load_corpus()
        cls.recordings = {f: xsdiff.load_recording(f) for f in cls.corpus}
        scripts = [s for ss in cls.corpus.values() for s in ss]
        with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
            cls.results = dict(zip([(s.file, s.name) for s in scripts], pool.map(run_on_dxs, scripts)))

    def check_file(self, corpus_file):
        recording = self.recordings[corpus_file]
        failures, notes = [], []
        for script in self.corpus[corpus_file]:
            result, problem = self.results[(corpus_file, script.name)]
            if problem:
                failures.append("%s %s: %s" % (corpus_file, script.name, problem))
            if result is None:
                continue
            recorded = recording["scripts"].get(script.name) if recording else None
            diffs, n = xsdiff.compare(script, recorded, result)
            failures += [str(d) for d in diffs]
            notes += [str(d) for d in n]
        for n in notes:
            print("\nnot failed: " + n, file=sys.stderr)
        if failures:
            self.fail("%d difference(s) from C xenstored:\n\n%s" % (len(failures), "\n\n".join(failures)))


class Language(unittest.TestCase):
    """The corpus language and the recordings' byte encoding."""

    def test_escape_round_trip(self):
        rng = random.Random(7)
        samples = [b"", b"\0", b"{}{x*3}\\", b"a" * 40 + b"{" * 20 + b"\0" * 30, bytes(range(256))]
        samples += [bytes(rng.choice(b"ab{}\\\0\xff*1") for _ in range(rng.randrange(200)))
                    for _ in range(200)]
        for data in samples:
            self.assertEqual(xsdiff.unescape_recorded(xsdiff.escape(data)), data)

    def test_payload_tokens(self):
        self.assertEqual(xsdiff.parse_payload('/a "v"'), b"/a\0v")
        self.assertEqual(xsdiff.parse_payload('"/" "a"*3 "\\0" tok'), b"/aaa\0tok\0")
        step = xsdiff.parse_step(1, '2: READ tx=$3 req=9 len=0x10 split=1 nowait "r 5\\0"')
        self.assertEqual((step.conn, step.type, step.tx, step.req_id, step.length, step.split, step.nowait),
                         (2, 2, "$3", 9, 16, 1, True))
        self.assertEqual(step.payload, b"r 5\0")


class DeviationsDocumented(unittest.TestCase):
    def test_every_anchor_is_in_deviations_md(self):
        """A deviation the corpus names must be explained in docs/deviations.md."""
        doc = os.path.join(os.path.dirname(xsdiff.HERE), "..", "docs", "deviations.md")
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        missing = sorted({"%s (%s %s)" % (s.deviation.anchor, script.file, script.name)
                          for scripts in xsdiff.load_corpus().values() for script in scripts
                          for s in script.steps
                          if s.deviation and s.deviation.anchor != "bug"
                          and '<a id="%s">' % s.deviation.anchor not in text})
        self.assertFalse(missing, "anchors missing from docs/deviations.md: " + ", ".join(missing))


def _add_tests():
    for f in xsdiff.corpus_files():
        name = "test_" + f[:-3].replace("-", "_")
        setattr(Differential, name, lambda self, f=f: self.check_file(f))


_add_tests()

if __name__ == "__main__":
    dxstest.main()
