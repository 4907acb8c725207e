"""The configuration's documentation is the binaries' own: deploy/dxs.conf.example is
exactly what `dxs-store --print-config` and `dxs-frontend --print-config` print, after its
header, and each binary's --help lists every key it reads with its default. A default or
a key changed in the code without the example (or the other way round) fails here."""

import os
import re
import subprocess
import unittest

import dxstest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "deploy", "dxs.conf.example")


def run(binary, *args):
    return subprocess.run([dxstest.binary(binary), *args], check=True, capture_output=True,
                          text=True, timeout=30).stdout


def keys_of(text):
    """(key, default) of every commented-out setting line."""
    return re.findall(r"^#([a-z][a-z0-9.-]*) = (.*)$", text, re.M)


class ConfigDocs(unittest.TestCase):
    def test_example_is_what_the_binaries_print(self):
        with open(EXAMPLE, encoding="utf-8") as f:
            example = f.read()
        header, sep, body = example.partition("\n\n")
        self.assertTrue(sep, "the example has a header, then a blank line")
        self.assertTrue(all(line.startswith("#") for line in header.splitlines()))
        expected = run("dxs-store", "--print-config") + "\n" + run("dxs-frontend", "--print-config")
        self.assertEqual(body, expected,
                         "deploy/dxs.conf.example differs from the binaries' --print-config; "
                         "regenerate it as its header says")

    def test_help_lists_every_key_with_its_default(self):
        for binary in ("dxs-store", "dxs-frontend"):
            printed = keys_of(run(binary, "--print-config"))
            self.assertGreater(len(printed), 3)
            help_text = run(binary, "--help")
            for key, default in printed:
                self.assertRegex(help_text, r"(?m)^  %s = %s\s" % (re.escape(key), re.escape(default)),
                                 "%s --help does not list %s = %s" % (binary, key, default))


if __name__ == "__main__":
    unittest.main()
