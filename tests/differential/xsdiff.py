"""Differential testing of Xenstore servers: the corpus language, the script runner, the
recordings and the comparison.

The corpus (corpus/*.xs) holds request scripts. record.py replays each script against C
xenstored and stores what it answered in recorded/<file>.json; the integration test
tests/integration/differential.py replays the same scripts against dxs and compares,
through normalise_step(), with the recordings.

Corpus language (one step per line; README.md beside this file describes it in full):

    === script-name                 starts a script; lines up to the next === belong to it
    # comment                       ignored
    1: WRITE /a "value"             on connection 1, send WRITE with payload "/a\\0value",
                                    then read messages up to its reply
    2: READ tx=$1 /a                tx=$K: the id the K-th successful TRANSACTION_START on
                                    this connection returned; tx=N: a literal id
    1: 23 "x\\0"                     a type by number (decimal or 0x...)
    1: READ len=4097 "/a\\0" closes  len=: the header's length field instead of the real one;
                                    closes: the server must close the connection
    1: WRITE split=1 /a "v"         send the bytes of the message in pieces of 1 byte
    1: READ req=7 /a                req=: the request id (default: 1, 2, ... per connection)
    1: READ nowait /a               send without reading the reply; a later `1: read` does
    1: sync                         a harmless request (GET_DOMAIN_PATH 0) whose reply
                                    shows which watch events were pending before it
    1: close                        close the connection
    *3 1: WRITE /d/n{i:02} ""        the step 3 times, {i} being 0, 1, 2 (format spec :02)
      ~ anchor: ERROR "EINVAL\\0"    the step is a documented deviation (docs/deviations.md
                                    #anchor): dxs must answer this instead of C's reply
                                    (`...` as a payload: any payload)
      ~ bug: text                   a known dxs bug: differences are reported, not failed

Payload tokens: a bare word is a NUL-terminated string (`/a` is b"/a\\0"); a quoted string
is raw bytes with escapes \\0 \\n \\t \\\\ \\" \\xHH and may be repeated with *N ("a"*2048).
"""

import hashlib
import json
import os
import re
import socket
import struct
from dataclasses import dataclass, field

HEADER = struct.Struct("<IIII")
# How long a step waits for its reply before the script is abandoned as stuck: generous
# (a loaded CI machine), and only ever reached when a server fails to answer.
READ_TIMEOUT = 10.0

TYPES = {
    "CONTROL": 0, "DEBUG": 0, "DIRECTORY": 1, "READ": 2, "GET_PERMS": 3, "WATCH": 4,
    "UNWATCH": 5, "TRANSACTION_START": 6, "TRANSACTION_END": 7, "INTRODUCE": 8,
    "RELEASE": 9, "GET_DOMAIN_PATH": 10, "WRITE": 11, "MKDIR": 12, "RM": 13,
    "SET_PERMS": 14, "WATCH_EVENT": 15, "EVENT": 15, "ERROR": 16,
    "IS_DOMAIN_INTRODUCED": 17, "RESUME": 18, "SET_TARGET": 19, "RESTRICT": 20,
    "RESET_WATCHES": 21, "DIRECTORY_PART": 22,
}
TYPE_NAMES = {v: k for k, v in TYPES.items() if k not in ("DEBUG", "EVENT")}
WATCH_EVENT, ERROR = 15, 16
TRANSACTION_START, DIRECTORY, DIRECTORY_PART = 6, 1, 22
SYNC_TYPE, SYNC_PAYLOAD = 10, b"0\0"

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS_DIR = os.path.join(HERE, "corpus")
RECORDED_DIR = os.path.join(HERE, "recorded")


class CorpusError(Exception):
    """A line of the corpus that cannot be parsed, with its file and line number."""


# -- byte strings ---------------------------------------------------------------------

_ESCAPES = {"0": b"\0", "n": b"\n", "t": b"\t", "\\": b"\\", '"': b'"', "r": b"\r"}


def unescape(text):
    """The bytes a corpus string literal (without its quotes) stands for."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        if i + 1 >= len(text):
            raise ValueError("dangling backslash")
        esc = text[i + 1]
        if esc == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        elif esc in _ESCAPES:
            out += _ESCAPES[esc]
            i += 2
        else:
            raise ValueError("unknown escape \\" + esc)
    return bytes(out)


def escape(data):
    """A readable, reversible text form of bytes (the inverse of unescape); runs of one
    byte longer than 16 are written "x"*N-style as {x*N} so that long paths stay short."""
    out = []
    i = 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i > 16:
            out.append("{%s*%d}" % (_escape_byte(data[i]), j - i))
            i = j
            continue
        out.append(_escape_byte(data[i]))
        i += 1
    return "".join(out)


def _escape_byte(b):
    if b == 0:
        return "\\0"
    if b == 0x5C:
        return "\\\\"
    if b in (0x7B, 0x7D) or b < 0x20 or b > 0x7E:
        return "\\x%02x" % b
    return chr(b)


def unescape_recorded(text):
    """The inverse of escape(): expands {x*N} runs, then the escapes."""
    def expand(m):
        return m.group(1) * int(m.group(2))
    return unescape(re.sub(r"\{((?:\\x[0-9a-f]{2}|\\0|\\\\|[^{}\\]))\*(\d+)\}", expand, text))


# -- the corpus -----------------------------------------------------------------------

@dataclass
class Deviation:
    """A documented difference: dxs must answer `expected` (None for a known bug)."""
    anchor: str                    # section of docs/deviations.md, or "bug"
    expected: list = None          # [(type, payload bytes)] or ["closed"]
    text: str = ""


@dataclass
class Step:
    lineno: int
    conn: int
    kind: str                      # "req", "sync", "close", "read"
    text: str
    type: int = 0
    tx: str = "0"                  # "0", a literal id, or "$K"
    req_id: int = None
    length: int = None
    split: int = None
    nowait: bool = False
    closes: bool = False
    payload: bytes = b""
    deviation: Deviation = None


@dataclass
class Script:
    name: str
    file: str
    lineno: int
    steps: list = field(default_factory=list)

    def digest(self):
        """A hash of the script's steps (not its comments or annotations): a recording
        made from another version of the script is stale."""
        h = hashlib.sha256()
        for s in self.steps:
            h.update(s.text.encode() + b"\n")
        return h.hexdigest()[:16]


_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"(?:\*(\d+))?|(\S+))')


def parse_payload(text):
    """The bytes of a sequence of payload tokens."""
    out = b""
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError("cannot parse payload at %r" % text[pos:])
        if m.group(3) is not None:
            out += m.group(3).encode() + b"\0"
        else:
            out += unescape(m.group(1)) * int(m.group(2) or 1)
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def parse_type(word):
    if word.upper() in TYPES:
        return TYPES[word.upper()]
    return int(word, 0)


_STEP = re.compile(r"^(\d+):\s*(\S+)\s*(.*)$")
_OPTION = re.compile(r"^(tx|req|len|split)=(\S+)$")


def parse_step(lineno, line):
    m = _STEP.match(line)
    if not m:
        raise ValueError("expected '<conn>: <TYPE> ...'")
    conn, word, rest = int(m.group(1)), m.group(2), m.group(3)
    if word in ("sync", "close", "read"):
        if rest.strip():
            raise ValueError("%s takes no arguments" % word)
        return Step(lineno, conn, word, line)
    step = Step(lineno, conn, "req", line, type=parse_type(word))
    words = rest.split(" ")
    while words:
        w = words[0]
        opt = _OPTION.match(w)
        if opt:
            key, value = opt.groups()
            if key == "tx":
                if not re.match(r"^(\$\d+|\d+|0x[0-9a-fA-F]+)$", value):
                    raise ValueError("tx= takes $K or a number")
                step.tx = value
            elif key == "req":
                step.req_id = int(value, 0)
            elif key == "len":
                step.length = int(value, 0)
            else:
                step.split = int(value, 0)
        elif w in ("nowait", "closes"):
            setattr(step, w, True)
        elif w != "":
            break
        words.pop(0)
    step.payload = parse_payload(" ".join(words))
    return step


def expand_repeat(line):
    """`*N <step>` stands for N copies of the step with {i} (or {i:03}, a format spec)
    replaced by 0, 1, ..., N-1; any other line stands for itself."""
    m = re.match(r"^\*(\d+)\s+(.*)$", line)
    if not m:
        return [line]
    body = m.group(2)
    return [re.sub(r"\{i(:[0-9]+)?\}", lambda x: format(i, (x.group(1) or ":")[1:]), body)
            for i in range(int(m.group(1)))]


# The payload of an expected message written `...`: any payload (for replies whose text
# is the server's own, such as CONTROL help).
ANY = b"<any payload>"


def parse_expected(text):
    """'ERROR "EINVAL\\0"; EVENT /a tok' -> [(16, b"EINVAL\\0"), (15, b"/a\\0tok\\0")]."""
    if text.strip() == "closed":
        return ["closed"]
    out = []
    for part in text.split(";"):
        word, _, rest = part.strip().partition(" ")
        out.append((parse_type(word), ANY if rest.strip() == "..." else parse_payload(rest)))
    return out


def parse_corpus_file(path):
    """The scripts of one corpus file, in order."""
    scripts = []
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            stripped = line.strip()
            try:
                if not stripped or stripped.startswith("#"):
                    continue
                if stripped.startswith("==="):
                    sname = stripped[3:].strip()
                    if not re.match(r"^[a-z0-9][a-z0-9_.-]*$", sname):
                        raise ValueError("script names are lower-case words with - _ .")
                    if any(s.name == sname for s in scripts):
                        raise ValueError("duplicate script name " + sname)
                    scripts.append(Script(sname, name, lineno))
                    continue
                if not scripts:
                    raise ValueError("step outside a script")
                if stripped.startswith("~"):
                    steps = scripts[-1].steps
                    if not steps or steps[-1].deviation is not None:
                        raise ValueError("~ must follow a step (one per step)")
                    anchor, sep, rest = stripped[1:].partition(":")
                    anchor = anchor.strip()
                    if not sep or not anchor:
                        raise ValueError("expected '~ anchor: reply' or '~ bug: text'")
                    if anchor == "bug":
                        steps[-1].deviation = Deviation("bug", None, rest.strip())
                    else:
                        steps[-1].deviation = Deviation(anchor, parse_expected(rest), rest.strip())
                    continue
                for text in expand_repeat(stripped):
                    scripts[-1].steps.append(parse_step(lineno, text))
            except (ValueError, KeyError) as e:
                raise CorpusError("%s:%d: %s: %s" % (path, lineno, e, stripped)) from None
    for s in scripts:
        if not s.steps:
            raise CorpusError("%s:%d: script %s has no steps" % (path, s.lineno, s.name))
    return scripts


def corpus_files():
    return sorted(f for f in os.listdir(CORPUS_DIR) if f.endswith(".xs"))


def load_corpus():
    """{file name: [Script]} for every corpus file."""
    return {f: parse_corpus_file(os.path.join(CORPUS_DIR, f)) for f in corpus_files()}


# -- running a script -----------------------------------------------------------------

class _Conn:
    """One client connection of a script run: its socket, its next request id and the ids
    its transactions were given."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # A blocking connect waits while the server's listen backlog is full (a
        # non-blocking one fails with EAGAIN when the server is slow to accept).
        self.sock.connect(path)
        self.sock.settimeout(READ_TIMEOUT)
        self.buf = b""
        self.next_req_id = 1
        self.txids = []
        self.closed = False

    def read_message(self):
        """The next message as [type, req_id, tx_id, payload], or None at end of stream."""
        while True:
            if len(self.buf) >= HEADER.size:
                type_, req_id, tx_id, length = HEADER.unpack_from(self.buf)
                if len(self.buf) >= HEADER.size + length:
                    payload = self.buf[HEADER.size:HEADER.size + length]
                    self.buf = self.buf[HEADER.size + length:]
                    return [type_, req_id, tx_id, payload]
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk

    def read_reply(self):
        """(messages up to and including the next reply, closed)."""
        messages = []
        while True:
            m = self.read_message()
            if m is None:
                self.closed = True
                return messages, True
            messages.append(m)
            if m[0] != WATCH_EVENT:
                return messages, False

    def read_to_end(self):
        messages = []
        while True:
            m = self.read_message()
            if m is None:
                self.closed = True
                return messages
            messages.append(m)


def _resolve_tx(step, conn):
    if not step.tx.startswith("$"):
        return int(step.tx, 0)
    k = int(step.tx[1:])
    if not 1 <= k <= len(conn.txids):
        raise CorpusError("line %d: %s but connection %d has started %d transactions"
                          % (step.lineno, step.tx, step.conn, len(conn.txids)))
    return conn.txids[k - 1]


def _send(conn, step):
    tx = _resolve_tx(step, conn)
    req_id = step.req_id
    if req_id is None:
        req_id = conn.next_req_id
        conn.next_req_id += 1
    length = len(step.payload) if step.length is None else step.length
    data = HEADER.pack(step.type, req_id, tx, length) + step.payload
    try:
        if step.split:
            for i in range(0, len(data), step.split):
                conn.sock.sendall(data[i:i + step.split])
        else:
            conn.sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed the connection; reading will tell


def _note_transaction(conn, messages):
    """Keeps the id a successful TRANSACTION_START returned, for tx=$K and normalise()."""
    reply = messages[-1] if messages else None
    if reply and reply[0] == TRANSACTION_START:
        try:
            conn.txids.append(int(reply[3].rstrip(b"\0")))
        except ValueError:
            pass


def run_script(script, socket_path):
    """Runs the script's steps against the server listening on socket_path, then reads
    the pending events of every connection still open (a final sync on each).

    Returns {"digest", "steps": [{"step", "messages", "closed"}], "transactions"}, where
    messages are [type, req_id, tx_id, payload bytes]; a step that timed out waiting for
    its reply has "timeout": true."""
    conns = {}
    results = []
    try:
        for step in script.steps + [None]:
            if step is None:
                for n in sorted(conns):
                    if not conns[n].closed:
                        sync = Step(0, n, "sync", "%d: sync (final)" % n)
                        results.append(_run_step(sync, conns))
                break
            results.append(_run_step(step, conns, socket_path))
            if results[-1].get("timeout"):
                break  # the server is stuck or gone: the rest would only time out too
    finally:
        for c in conns.values():
            c.sock.close()
    return {
        "digest": script.digest(),
        "steps": results,
        "transactions": {str(n): c.txids for n, c in sorted(conns.items()) if c.txids},
    }


def _run_step(step, conns, socket_path=None):
    result = {"step": step.text, "messages": [], "closed": False}
    if step.conn not in conns:
        if step.kind == "close":
            return result
        conns[step.conn] = _Conn(socket_path)
    conn = conns[step.conn]
    if conn.closed and step.kind != "close":
        result["closed"] = True
        return result
    try:
        if step.kind == "close":
            conn.sock.close()
            conn.closed = True
            return result
        if step.kind == "sync":
            _send(conn, Step(step.lineno, step.conn, "req", "", type=SYNC_TYPE, payload=SYNC_PAYLOAD))
        elif step.kind == "req":
            _send(conn, step)
            if step.nowait:
                return result
        if step.closes:
            result["messages"] = conn.read_to_end()
            result["closed"] = True
            return result
        messages, closed = conn.read_reply()
        result["messages"], result["closed"] = messages, closed
        if step.kind == "req" and step.type == TRANSACTION_START:
            _note_transaction(conn, messages)
    except socket.timeout:
        result["timeout"] = True
    return result


# -- recordings -----------------------------------------------------------------------

def encode_result(result):
    """A run's result in the JSON form of the recordings (payloads escaped)."""
    out = dict(result)
    out["steps"] = []
    for s in result["steps"]:
        e = dict(s)
        e["messages"] = [[TYPE_NAMES.get(t, t), r, x, escape(p)] for t, r, x, p in s["messages"]]
        out["steps"].append(e)
    return out


def decode_result(data):
    out = dict(data)
    out["steps"] = []
    for s in data["steps"]:
        d = dict(s)
        d["messages"] = [[TYPES[t] if isinstance(t, str) else t, r, x, unescape_recorded(p)]
                         for t, r, x, p in s["messages"]]
        out["steps"].append(d)
    return out


def recording_path(corpus_file):
    return os.path.join(RECORDED_DIR, corpus_file[:-3] + ".json")


def load_recording(corpus_file):
    """{"recorded_with": ..., "scripts": {name: result}} of one corpus file, or None."""
    path = recording_path(corpus_file)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    data["scripts"] = {k: decode_result(v) for k, v in data["scripts"].items()}
    return data


def _dump_recording(data):
    """JSON with one line per step, so that a re-recording's diff shows what changed."""
    lines = ['{"recorded_with": %s,' % json.dumps(data["recorded_with"]), ' "scripts": {']
    names = list(data["scripts"])
    for i, name in enumerate(names):
        r = data["scripts"][name]
        lines.append('  %s: {"digest": %s, "transactions": %s, "steps": [' % (
            json.dumps(name), json.dumps(r["digest"]), json.dumps(r["transactions"])))
        steps = [json.dumps(s, sort_keys=True) for s in r["steps"]]
        lines += ["   " + s + ("," if j + 1 < len(steps) else "") for j, s in enumerate(steps)]
        lines.append("  ]}" + ("," if i + 1 < len(names) else ""))
    lines.append(" }}")
    return "\n".join(lines) + "\n"


def save_recording(corpus_file, recorded_with, scripts):
    """Writes the recording of one corpus file: scripts is {name: result}, in corpus order."""
    os.makedirs(RECORDED_DIR, exist_ok=True)
    data = {"recorded_with": recorded_with,
            "scripts": {k: encode_result(v) for k, v in scripts.items()}}
    tmp = recording_path(corpus_file) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(_dump_recording(data))
    os.replace(tmp, recording_path(corpus_file))


# -- normalisation and comparison -------------------------------------------------------

def _tx_symbol(conn_txids, tx_id):
    if tx_id in conn_txids:
        return "$%d" % (conn_txids.index(tx_id) + 1)
    return tx_id


def normalise_message(msg, request_type, txids):
    """One message as compared: (type, req_id, tx_id, payload), with what legitimately
    differs between two correct servers replaced:

    - transaction ids are each server's own choice: an id a TRANSACTION_START returned on
      this connection becomes $K (in the reply header and in the START reply's payload);
    - DIRECTORY lists children in an order the protocol leaves open (C: creation order,
      dxs: byte order), so the names are sorted;
    - DIRECTORY_PART's first field is a generation that only has to change when the
      directory does (C: its node generation, dxs: a commit sequence number), so it
      becomes GEN, and the names of a chunk are sorted as for DIRECTORY.
    """
    type_, req_id, tx_id, payload = msg
    tx = _tx_symbol(txids, tx_id)
    if type_ == TRANSACTION_START and request_type == TRANSACTION_START:
        try:
            payload = ("%s\0" % _tx_symbol(txids, int(payload.rstrip(b"\0")))).encode()
        except ValueError:
            pass
    elif type_ == DIRECTORY and request_type == DIRECTORY:
        names = payload.split(b"\0")
        if names and names[-1] == b"":
            names = sorted(names[:-1]) + [b""]
        payload = b"\0".join(names)
    elif type_ == DIRECTORY_PART and request_type == DIRECTORY_PART:
        fields = payload.split(b"\0")
        body = fields[1:]
        trailing = []
        while body and body[-1] == b"":
            trailing.append(body.pop())
        payload = b"\0".join([b"GEN"] + sorted(body) + trailing)
    return (type_, req_id, tx, payload)


def normalise_step(step, result, txids_by_conn):
    """A step's outcome as compared: (sorted events, reply or None, closed, timeout).

    The events that came before a reply are compared as a multiset: the order in which
    one change fires several watches (say, an RM walking a subtree) is the server's."""
    conn = step.conn if step is not None else 0
    txids = txids_by_conn.get(str(conn), [])
    request_type = step.type if step is not None and step.kind == "req" else SYNC_TYPE
    msgs = [normalise_message(m, request_type, txids) for m in result["messages"]]
    events = sorted(m for m in msgs if m[0] == WATCH_EVENT)
    others = [m for m in msgs if m[0] != WATCH_EVENT]
    return (events, others, result.get("closed", False), result.get("timeout", False))


def expected_outcome(step, dxs_result, txids_by_conn):
    """What a deviation step's `~ anchor: ...` says dxs answers, in the form of
    normalise_step (request and transaction ids taken from dxs's own reply)."""
    expected = step.deviation.expected
    if expected == ["closed"]:
        return ([], [], True, False)
    txids = txids_by_conn.get(str(step.conn), [])
    actual = [m for m in dxs_result["messages"] if m[0] != WATCH_EVENT]
    req_id = actual[-1][1] if actual else None
    tx_id = actual[-1][2] if actual else None
    events, others = [], []
    for type_, payload in expected:
        if type_ == WATCH_EVENT:
            events.append(normalise_message([type_, 0, 0, payload], step.type, txids))
        else:
            others.append(normalise_message([type_, req_id, tx_id, payload], step.type, txids))
    return (sorted(events), others, False, False)


def mask_any(expected, actual):
    """actual with the payload of each reply replaced by ANY where expected has ANY."""
    others = [m if i >= len(expected[1]) or expected[1][i][3] != ANY else m[:3] + (ANY,)
              for i, m in enumerate(actual[1])]
    return (actual[0], others) + tuple(actual[2:])


def describe_pair(a, b):
    """describe() of two outcomes, leaving out the events they have in common at the
    start (a step with 150 events that differ in the last one stays readable)."""
    same = 0
    while same < min(len(a[0]), len(b[0])) and a[0][same] == b[0][same]:
        same += 1
    if same < 4:
        return describe(a), describe(b)
    note = "(%d identical events left out) " % same
    return (note + describe((a[0][same:],) + tuple(a[1:])),
            note + describe((b[0][same:],) + tuple(b[1:])))


def describe(outcome):
    """A readable form of a normalised step outcome for failure messages."""
    events, others, closed, timeout = outcome
    parts = []
    for m in events + others:
        type_, req_id, tx, payload = m
        parts.append("%s(req=%s tx=%s) %s" % (TYPE_NAMES.get(type_, type_), req_id, tx,
                                               json.dumps(escape(payload))))
    if closed:
        parts.append("<connection closed>")
    if timeout:
        parts.append("<timed out waiting for a reply>")
    return "; ".join(parts) if parts else "<nothing>"


@dataclass
class Difference:
    script: Script
    step: Step                     # None for a final sync
    line: int
    text: str
    expected: str                  # C's reply, or the documented dxs answer
    actual: str                    # dxs's reply
    kind: str                      # "mismatch", "deviation", "known-bug", "stale"

    def __str__(self):
        where = "%s:%d %s" % (self.script.file, self.line, self.script.name)
        if self.kind == "deviation":
            return ("%s: step `%s` is documented (docs/deviations.md#%s) to answer\n    %s\n"
                    "  but dxs answered\n    %s" % (where, self.text, self.step.deviation.anchor,
                                                    self.expected, self.actual))
        if self.kind == "stale":
            return "%s: %s" % (where, self.text)
        if self.kind == "bug-fixed":
            return ("%s: step `%s` is marked as a known dxs bug (%s) but dxs now answers as C "
                    "does: remove its `~ bug` line" % (where, self.text, self.step.deviation.text))
        return ("%s: step `%s`\n    C xenstored: %s\n    dxs:         %s%s" % (
            where, self.text, self.expected, self.actual,
            "\n    (known dxs bug: %s)" % self.step.deviation.text if self.kind == "known-bug" else ""))


def compare(script, recorded, actual):
    """Compares a run of script against dxs (actual) with C's recording; returns
    (differences, notes): differences fail the test, notes (known bugs still present or
    fixed) are reported."""
    if recorded is None:
        return [Difference(script, None, script.lineno, "no recording: run tests/differential/record.py",
                           "", "", "stale")], []
    if recorded["digest"] != script.digest():
        return [Difference(script, None, script.lineno,
                           "the script changed since it was recorded: run tests/differential/record.py",
                           "", "", "stale")], []
    diffs, notes = [], []
    steps = script.steps + [None] * (len(recorded["steps"]) - len(script.steps))
    if len(actual["steps"]) != len(recorded["steps"]):
        diffs.append(Difference(script, None, script.lineno,
                                "dxs run has %d steps (with final syncs), C's %d" % (
                                    len(actual["steps"]), len(recorded["steps"])), "", "", "stale"))
    for step, rec, act in zip(steps, recorded["steps"], actual["steps"]):
        c_out = normalise_step(step, rec, recorded["transactions"])
        d_out = normalise_step(step, act, actual["transactions"])
        line = step.lineno if step else script.steps[-1].lineno
        text = step.text if step else "final sync of a connection"
        dev = step.deviation if step else None
        if dev is not None and dev.anchor != "bug":
            want = expected_outcome(step, act, actual["transactions"])
            d_out = mask_any(want, d_out)
            if want != d_out:
                diffs.append(Difference(script, step, line, text, *describe_pair(want, d_out), "deviation"))
            continue
        if c_out == d_out:
            if dev is not None:
                notes.append(Difference(script, step, line, text, describe(c_out), describe(d_out),
                                        "bug-fixed"))
            continue
        d = Difference(script, step, line, text, *describe_pair(c_out, d_out),
                       "known-bug" if dev is not None else "mismatch")
        (notes if dev is not None else diffs).append(d)
    return diffs, notes
