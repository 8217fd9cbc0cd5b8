#!/usr/bin/env python3
"""Independent interoperability client for the fanwire gateway.

Written from docs/protocol.md alone (no knowledge of the gateway's source),
to show that the protocol document is enough to build a working client.
Python 3.11 standard library only: the RFC 6455 WebSocket client below is
implemented directly over `socket`; plain HTTP uses `http.client`.

Usage:  python3 test/interop/fanwire_client.py http://127.0.0.1:PORT

Run it against a freshly started gateway (empty buffer, default settings).
It prints `ok - <name>` or `not ok - <name>: <detail>` per check, then
`N passed, M failed`; the exit code is 0 only when every check passed.
Every socket operation has a timeout, so it always stops by itself.
"""

import base64
import hashlib
import http.client
import json
import os
import socket
import struct
import sys
import urllib.parse

TIMEOUT = 10.0  # seconds, for every connect / read / write
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


# --------------------------------------------------------------------------
# Check bookkeeping
# --------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=""):
        """Record one check; returns the condition so callers can branch."""
        if condition:
            self.passed += 1
            print(f"ok - {name}", flush=True)
        else:
            self.failed += 1
            print(f"not ok - {name}: {detail}", flush=True)
        return bool(condition)

    def equal(self, name, actual, expected):
        return self.check(name, actual == expected,
                          f"expected {expected!r}, got {actual!r}")

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


# --------------------------------------------------------------------------
# Minimal RFC 6455 WebSocket client
# --------------------------------------------------------------------------

class WsRefused(Exception):
    """The server answered the upgrade request with something other than 101."""

    def __init__(self, status, body):
        super().__init__(f"upgrade refused: HTTP {status} {body[:200]!r}")
        self.status = status
        self.body = body


class WsClosed(Exception):
    """A close frame was received (code 1005 when it carried no code)."""

    def __init__(self, code, reason):
        super().__init__(f"closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class WebSocket:
    def __init__(self, sock, leftover=b""):
        self.sock = sock
        self.buf = bytearray(leftover)
        self.pongs = []  # payloads of pongs received
        self.closed = False

    # ---- handshake -------------------------------------------------------

    @classmethod
    def connect(cls, host, port, path):
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        sock.settimeout(TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        request = (
            f"GET {path} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "\r\n"
        )
        sock.sendall(request.encode("ascii"))
        ws = cls(sock)
        status, headers = ws._read_http_head()
        if status != 101:
            body = ws._read_http_body(headers)
            sock.close()
            raise WsRefused(status, body)
        expected = base64.b64encode(
            hashlib.sha1((key + WS_GUID).encode("ascii")).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            sock.close()
            raise ConnectionError("bad Sec-WebSocket-Accept in 101 response")
        return ws

    def _read_http_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def _read_http_body(self, headers):
        if "content-length" in headers:
            return self._read_exact(int(headers["content-length"]))
        try:  # no length: read until the server closes
            while True:
                self._fill()
        except (ConnectionError, socket.timeout):
            pass
        return bytes(self.buf)

    # ---- raw I/O ---------------------------------------------------------

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by peer")
        self.buf += chunk

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    # ---- frames ----------------------------------------------------------

    def send_frame(self, opcode, payload=b"", fin=True):
        """Send one client frame; client frames are always masked."""
        header = bytearray([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        mask = os.urandom(4)
        header += mask
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + masked)

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode("utf-8"))

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def _read_frame(self):
        b0, b1 = self._read_exact(2)
        fin, opcode = bool(b0 & 0x80), b0 & 0x0F
        masked, n = bool(b1 & 0x80), b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read_exact(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read_exact(8))
        mask = self._read_exact(4) if masked else None
        payload = self._read_exact(n)
        if mask:  # servers must not mask, but tolerate it
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return fin, opcode, payload

    def recv_message(self):
        """Return (opcode, payload) of the next data message.

        Reassembles fragmented messages, answers pings with pongs, records
        pongs, and raises WsClosed when a close frame arrives (after echoing
        the close as RFC 6455 requires).
        """
        opcode, parts = None, []
        while True:
            fin, op, payload = self._read_frame()
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                self.pongs.append(payload)
                continue
            if op == OP_CLOSE:
                self._on_close(payload)
            if op == OP_CONT:
                if opcode is None:
                    raise ConnectionError("continuation frame without a start")
            else:
                if opcode is not None:
                    raise ConnectionError("new data frame inside a fragmented message")
                opcode = op
            parts.append(payload)
            if fin:
                return opcode, b"".join(parts)

    def _on_close(self, payload):
        code, reason = 1005, ""
        if len(payload) >= 2:
            (code,) = struct.unpack("!H", payload[:2])
            reason = payload[2:].decode("utf-8", "replace")
        if not self.closed:
            try:
                self.send_frame(OP_CLOSE, payload[:2])
            except OSError:
                pass
        self.closed = True
        self.sock.close()
        raise WsClosed(code, reason)

    def recv_json(self):
        """Next message, which must be a text frame holding JSON."""
        opcode, payload = self.recv_message()
        if opcode != OP_TEXT:
            raise ValueError(f"expected a text frame, got opcode {opcode}")
        return json.loads(payload.decode("utf-8"))

    def close(self, code=1000):
        if self.closed:
            return
        self.closed = True
        try:
            self.send_frame(OP_CLOSE, struct.pack("!H", code))
        except OSError:
            pass
        self.sock.close()


# --------------------------------------------------------------------------
# Gateway helpers
# --------------------------------------------------------------------------

class Gateway:
    def __init__(self, base_url):
        url = urllib.parse.urlsplit(base_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80

    def http(self, method, path, body=None, headers=None):
        """Plain HTTP request; returns (status, parsed JSON body or raw text)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw.decode("utf-8"))
        except ValueError:
            return resp.status, raw.decode("utf-8", "replace")

    def refused_upgrade(self, path):
        """Send a WebSocket upgrade through http.client, expecting a refusal.

        Returns (status, parsed JSON body). A 101 is returned as (101, None).
        """
        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
        }
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            if resp.status == 101:
                return 101, None
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw.decode("utf-8"))
        except ValueError:
            return resp.status, raw.decode("utf-8", "replace")

    def ws(self, path):
        return WebSocket.connect(self.host, self.port, path)

    def subscribe(self, query):
        return self.ws("/v1/subscribe?" + query)


def next_non_heartbeat(ws):
    """Next subscriber message, skipping `heartbeat` messages."""
    while True:
        msg = ws.recv_json()
        if not (isinstance(msg, dict) and msg.get("type") == "heartbeat"):
            return msg


def collect_events(ws, last_index):
    """Read `events` messages until one with index >= last_index arrives."""
    got = []
    while True:
        msg = next_non_heartbeat(ws)
        got.append(msg)
        if not isinstance(msg, dict) or msg.get("type") != "events":
            return got  # unexpected message; caller's comparison will fail
        if msg.get("index", 0) >= last_index:
            return got


def as_delivered(event):
    """How a subscriber sees a published event (docs: Events).

    `type` and `key` always present (default ""), `filterKeys` only when
    non-empty, nothing else (a producer `id` is never stored).
    """
    out = {"topic": event["topic"], "type": event.get("type", ""),
           "key": event.get("key", ""), "payload": event["payload"]}
    if event.get("filterKeys"):
        out["filterKeys"] = list(event["filterKeys"])
    return out


def matches(event, topic_filter):
    """Subscription filter `T`, `T:k` or `*` (docs: Subscribers, `topic`)."""
    if topic_filter == "*":
        return True
    topic, sep, key = topic_filter.partition(":")
    if event["topic"] != topic:
        return False
    if not sep:
        return True
    return event.get("key", "") == key or key in (event.get("filterKeys") or [])


def expected_stream(items, topic_filter, start=1):
    """Expected `events` messages for items (index -> events) from `start`."""
    out = []
    for index in sorted(items):
        if index < start:
            continue
        evs = [as_delivered(e) for e in items[index] if matches(e, topic_filter)]
        if evs:
            out.append({"type": "events", "index": index, "events": evs})
    return out


def check_hello(r, name, msg, epoch=None, index=None, gap=None):
    ok = isinstance(msg, dict) and msg.get("type") == "hello"
    if not r.check(f"{name}: first message is hello", ok, f"got {msg!r}"):
        return None
    r.check(f"{name}: hello.epoch is a non-empty string",
            isinstance(msg.get("epoch"), str) and msg["epoch"] != "", repr(msg))
    r.check(f"{name}: hello.heartbeat is a positive number",
            isinstance(msg.get("heartbeat"), (int, float))
            and not isinstance(msg.get("heartbeat"), bool)
            and msg["heartbeat"] > 0, repr(msg))
    if epoch is not None:
        r.equal(f"{name}: hello.epoch is the gateway epoch", msg.get("epoch"), epoch)
    if index is not None:
        r.equal(f"{name}: hello.index", msg.get("index"), index)
    if gap is not None:
        r.equal(f"{name}: hello.gap", msg.get("gap"), gap)
    return msg


# --------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------

# What the producers publish, in order. Each step appends exactly one item.
SINGLE = {"topic": "orders", "type": "created", "key": "o-1", "payload": {"total": 12}}
BATCH = {"id": "b1", "events": [
    {"topic": "orders", "key": "o-2", "payload": 1},
    {"topic": "audit", "payload": "x"},
]}
TAGGED = {"id": 7, "topic": "orders", "type": "updated", "key": "o-9",
          "filterKeys": ["vip", "o-2"], "payload": {"list": [1, 2.5, None, True]}}
MIXED = {"events": [
    {"topic": "audit", "payload": None},
    {"topic": "orders", "key": "o-3", "payload": False},
    {"topic": "orders", "type": "paid", "key": "o-2", "filterKeys": [],
     "payload": ["a", {"b": "ü"}]},
]}
POSTED = {"id": "h1", "topic": "orders", "key": "o-2", "payload": {"via": "http"}}
FILTER = "orders:o-2"


def events_of(frame):
    if "events" in frame:
        return frame["events"]
    return [{k: v for k, v in frame.items() if k != "id"}]


class Scenario:
    def __init__(self, gw, report):
        self.gw = gw
        self.r = report
        self.epoch = None
        self.live = None      # all topics, json
        self.filtered = None  # topic=orders:o-2, json
        self.items = {}       # index -> published events, as acknowledged

    def step_healthz(self):
        status, body = self.gw.http("GET", "/healthz")
        self.r.equal("GET /healthz status", status, 200)
        self.r.equal("GET /healthz body", body, {"status": "ok"})

    def step_subscribers(self):
        self.live = self.gw.subscribe("format=json")
        hello = check_hello(self.r, "live subscriber", self.live.recv_json(),
                            index=1, gap=False)
        self.epoch = hello and hello.get("epoch")
        self.filtered = self.gw.subscribe("format=json&topic=" +
                                          urllib.parse.quote(FILTER))
        check_hello(self.r, "filtered subscriber", self.filtered.recv_json(),
                    epoch=self.epoch, index=1, gap=False)

    def _publish_ws(self, prod, name, frame, index):
        prod.send_json(frame)
        reply = prod.recv_json()
        expected = {"type": "ack", "index": index}
        if "id" in frame:
            expected["id"] = frame["id"]
        self.r.equal(f"{name}: ack", reply, expected)
        # Remember what was planned for this index, so later delivery checks
        # compare against the plan even when the ack itself was wrong.
        if isinstance(reply, dict) and reply.get("type") == "ack":
            self.items[index] = events_of(frame)

    def _expect_error(self, prod, name, raw_text, code, field=None):
        prod.send_text(raw_text)
        reply = prod.recv_json()
        ok = isinstance(reply, dict)
        self.r.check(f"{name}: error reply with code {code}",
                     ok and reply.get("type") == "error" and reply.get("code") == code,
                     f"got {reply!r}")
        self.r.check(f"{name}: error reply has a string message",
                     ok and isinstance(reply.get("message"), str), f"got {reply!r}")
        if field:
            self.r.check(f"{name}: error message names the field {field!r}",
                         ok and field in str(reply.get("message")), f"got {reply!r}")

    def step_ws_producer(self):
        prod = self.gw.ws("/v1/publish")
        try:
            self._publish_ws(prod, "producer single event", SINGLE, 1)
            self._publish_ws(prod, "producer batch with id", BATCH, 2)
            self._expect_error(prod, "producer frame without payload",
                               json.dumps({"topic": "orders"}), "invalid_frame",
                               field="payload")
            self._expect_error(prod, "producer malformed JSON",
                               '{"topic": "orders", "payload": ', "decode_failed")
            self._expect_error(prod, "producer event with an unknown field",
                               json.dumps({"topic": "orders", "payload": 1,
                                           "colour": "red"}),
                               "invalid_frame", field="colour")
            self._publish_ws(prod, "producer after errors (nothing appended)",
                             TAGGED, 3)
            self._publish_ws(prod, "producer mixed batch", MIXED, 4)
        finally:
            prod.close()

    def step_http_publish(self):
        status, body = self.gw.http("POST", "/v1/publish", json.dumps(POSTED),
                                    {"Content-Type": "application/json"})
        self.r.equal("POST /v1/publish status", status, 200)
        self.r.equal("POST /v1/publish body", body, {"index": 5, "id": "h1"})
        if status == 200:
            self.items[5] = events_of(POSTED)
        status, body = self.gw.http("POST", "/v1/publish", json.dumps(SINGLE),
                                    {"Content-Type": "text/plain"})
        self.r.equal("POST /v1/publish text/plain status", status, 415)
        self.r.check("POST /v1/publish text/plain code unsupported_media_type",
                     isinstance(body, dict)
                     and body.get("code") == "unsupported_media_type"
                     and isinstance(body.get("message"), str), f"got {body!r}")

    def step_live_delivery(self):
        last = max(self.items) if self.items else 5
        got = collect_events(self.live, last)
        self.r.equal("live subscriber received every item in order",
                     got, expected_stream(self.items, "*"))
        got = collect_events(self.filtered, last)
        self.r.equal(f"filtered subscriber ({FILTER}) received only matching events",
                     got, expected_stream(self.items, FILTER))

    def step_resume(self):
        # Resume from index 2 with the right epoch: no gap, starts at 2.
        sub = self.gw.subscribe(f"format=json&index=2&epoch={self.epoch}")
        try:
            check_hello(self.r, "resume index=2", sub.recv_json(),
                        epoch=self.epoch, index=2, gap=False)
            self.r.equal("resume index=2 receives items 2..5",
                         collect_events(sub, 5),
                         expected_stream(self.items, "*", start=2))
        finally:
            sub.close()
        # Wrong epoch: gap, and the stream starts at the oldest item held (1).
        wrong = "not-" + str(self.epoch)
        sub = self.gw.subscribe(f"format=json&index=2&epoch={wrong}")
        try:
            check_hello(self.r, "resume with wrong epoch", sub.recv_json(),
                        epoch=self.epoch, index=1, gap=True)
            self.r.equal("resume with wrong epoch starts at the oldest item",
                         collect_events(sub, 5),
                         expected_stream(self.items, "*", start=1))
        finally:
            sub.close()
        # strict=1 with the right epoch is accepted.
        sub = self.gw.subscribe(f"format=json&index=3&epoch={self.epoch}&strict=1")
        try:
            check_hello(self.r, "strict resume with right epoch", sub.recv_json(),
                        epoch=self.epoch, index=3, gap=False)
        finally:
            sub.close()

    def step_refused_upgrades(self):
        wrong = "not-" + str(self.epoch)
        status, body = self.gw.refused_upgrade(
            f"/v1/subscribe?format=json&index=2&epoch={wrong}&strict=1")
        self.r.equal("strict resume with wrong epoch: status", status, 410)
        self.r.equal("strict resume with wrong epoch: body code/oldest/epoch",
                     {k: body.get(k) for k in ("code", "oldest", "epoch")}
                     if isinstance(body, dict) else body,
                     {"code": "index_gone", "oldest": 1, "epoch": self.epoch})
        for name, query in [("format=xml", "format=xml"),
                            ("unknown parameter", "format=json&colour=red"),
                            ("strict without index", "format=json&strict=1"),
                            ("malformed index", "format=json&index=abc")]:
            status, body = self.gw.refused_upgrade("/v1/subscribe?" + query)
            self.r.check(f"subscribe with {name}: 400 bad_query",
                         status == 400 and isinstance(body, dict)
                         and body.get("code") == "bad_query",
                         f"got {status} {body!r}")

    def step_other_http(self):
        status, body = self.gw.http("GET", "/v1/subscribe")
        self.r.check("plain GET /v1/subscribe: 426 upgrade_required",
                     status == 426 and isinstance(body, dict)
                     and body.get("code") == "upgrade_required",
                     f"got {status} {body!r}")
        status, body = self.gw.http("GET", "/no/such/path")
        self.r.check("unknown path: 404 not_found",
                     status == 404 and isinstance(body, dict)
                     and body.get("code") == "not_found", f"got {status} {body!r}")

    def step_subscriber_ping_and_data(self):
        sub = self.gw.subscribe("format=json")
        try:
            check_hello(self.r, "misbehaving subscriber", sub.recv_json(),
                        epoch=self.epoch, index=6, gap=False)
            # A ping is a control frame, not a data message: expect a pong.
            sub.send_frame(OP_PING, b"fanwire-interop")
            sub.send_text('{"type":"ping"}')  # a data message: not allowed
            try:
                while True:
                    sub.recv_message()
            except WsClosed as closed:
                self.r.equal("subscriber data message: close code", closed.code, 1008)
            self.r.check("subscriber ping answered with pong before close",
                         b"fanwire-interop" in sub.pongs, f"pongs {sub.pongs!r}")
        finally:
            sub.close()

    def close_all(self):
        for ws in (self.live, self.filtered):
            if ws:
                ws.close()


def run_step(report, name, fn):
    try:
        fn()
    except Exception as exc:  # one broken step must not stop the others
        report.check(f"step {name} completed", False,
                     f"{type(exc).__name__}: {exc}")


def main(argv):
    if len(argv) != 2:
        print("usage: fanwire_client.py http://HOST:PORT", file=sys.stderr)
        return 2
    report = Report()
    scenario = Scenario(Gateway(argv[1]), report)
    steps = [
        ("healthz", scenario.step_healthz),
        ("subscribers", scenario.step_subscribers),
        ("ws producer", scenario.step_ws_producer),
        ("http publish", scenario.step_http_publish),
        ("live delivery", scenario.step_live_delivery),
        ("resume", scenario.step_resume),
        ("refused upgrades", scenario.step_refused_upgrades),
        ("other http", scenario.step_other_http),
        ("subscriber sends data", scenario.step_subscriber_ping_and_data),
    ]
    for name, fn in steps:
        run_step(report, name, fn)
    scenario.close_all()
    return report.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
