#!/usr/bin/env python3
"""cgdiff.py - where one more request's instructions go: the difference between two
callgrind dumps of the same process (instructions.sh with DXS_KEEP_TMP=1 keeps them, one
after each run), per function or per object, divided by the requests between them.

usage: cgdiff.py BEFORE AFTER REQUESTS [--by function|object] [--top N] [--inclusive]

Self cost unless --inclusive (then a function's callees count too, and the rows overlap).
It reads callgrind_annotate's report of each dump, so it needs valgrind's tools.
"""
import argparse
import re
import subprocess
import sys

ROW = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*?)\s*$")


def costs(dump, inclusive):
    args = ["callgrind_annotate", "--threshold=100", "--auto=no"]
    if inclusive:
        args.append("--inclusive=yes")
    out = subprocess.run(args + [dump], check=True, capture_output=True, text=True).stdout
    table, started = {}, False
    for line in out.splitlines():
        if not started:
            # The report's rows follow the header line that names the event column.
            started = line.strip().startswith("Ir") and "file:function" in line
            continue
        m = ROW.match(line)
        if not m or not m.group(2):
            continue
        table[m.group(2)] = table.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return table


def object_of(name):
    m = re.search(r"\[(.*)\]$", name)
    return m.group(1).rsplit("/", 1)[-1] if m else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("requests", type=int)
    ap.add_argument("--by", choices=["function", "object"], default="function")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--inclusive", action="store_true")
    a = ap.parse_args()
    if a.requests <= 0:
        sys.exit("cgdiff.py: REQUESTS must be positive")
    before, after = costs(a.before, a.inclusive), costs(a.after, a.inclusive)
    diff = {}
    for name in set(before) | set(after):
        key = name if a.by == "function" else object_of(name)
        diff[key] = diff.get(key, 0) + after.get(name, 0) - before.get(name, 0)
    total = sum(diff.values())
    print(f"{total / a.requests:12.0f}  per request in all ({a.requests} requests)")
    for key, v in sorted(diff.items(), key=lambda kv: -kv[1])[: a.top]:
        print(f"{v / a.requests:12.0f}  {100 * v / total if total else 0:5.1f}%  {key}")


if __name__ == "__main__":
    main()
