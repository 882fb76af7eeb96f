"""Raw-socket clients and engine helpers for the proxy tests.

The tests are ``test_proxy_messages.py``, ``test_proxy_connections.py``, ``test_smuggling.py``
and ``test_bare_lf_responses.py``; their fixtures (``engine``, ``backends``) are in
``conftest.py``.
"""


from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass

from ecsemu.lb import (
    Forward,
    LbSnapshot,
    ListenerSpec,
    LoadBalancerEngine,
    RuleSpec,
    TargetGroupSpec,
    TargetKey,
    TargetSpec,
)
from ecsemu.lb.engine import THREAD_NAME

from .proxy_backends import (
    DATE_RE,
    LINGER_RESET,
    LOCALHOST,
    NO_CHECKS,
    TIMEOUT_S,
    Header,
    RawBackend,
    field_value,
    parse_fields,
)

# --------------------------------------------------------------------------- raw clients


@dataclass
class Response:
    interim: list[bytes]
    status_line: bytes
    headers: list[Header]
    framing: str
    """How the body was delimited: "length", "chunked", "close" or "none"."""
    body: bytes
    trailers: list[Header]
    raw: bytes

    @property
    def status(self) -> int:
        return int(self.status_line.split(b" ")[1])

    def get(self, name: bytes) -> bytes | None:
        return field_value(self.headers, name)

    def names(self) -> set[bytes]:
        return {n.lower() for n, _ in self.headers}

    def shape(self) -> tuple[object, ...]:
        """Everything a client can tell apart, less dates and chunk boundaries."""
        headers = tuple((n, b"<date>" if n.lower() == b"date" else v) for n, v in self.headers)
        return (tuple(self.interim), self.status_line, headers, self.framing, self.body, tuple(self.trailers))


def normalized(raw: bytes) -> bytes:
    return DATE_RE.sub(b"\r\nDate: <date>", raw)


class Incomplete(Exception):
    pass


def parse_response(buf: bytes, method: bytes, eof: bool) -> tuple[Response, int]:
    """The first complete response in ``buf`` (and the bytes it took), or Incomplete."""
    pos = 0
    interim: list[bytes] = []
    while True:
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            raise Incomplete
        lines = buf[pos:end].split(b"\r\n")
        status_line, headers = lines[0], parse_fields(lines[1:])
        if not re.fullmatch(rb"HTTP/1\.[01] \d{3}( .*)?", status_line):
            raise ValueError(f"not a status line: {status_line!r}")
        status = int(status_line[9:12])
        start, pos = pos, end + 4
        if status >= 200:
            break
        interim.append(buf[start:pos])
    coding = field_value(headers, b"transfer-encoding")
    length = field_value(headers, b"content-length")
    trailers: list[Header] = []
    if method == b"HEAD" or status in (204, 304):
        framing, body = "none", b""
    elif coding is not None:
        framing, body = "chunked", b""
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                raise Incomplete
            size = int(buf[pos:line_end].split(b";")[0], 16)
            pos = line_end + 2
            if size == 0:
                end = buf.find(b"\r\n\r\n", pos - 2)
                if end < 0:
                    raise Incomplete
                trailers = parse_fields([x for x in buf[pos:end].split(b"\r\n") if x])
                pos = end + 4
                break
            if len(buf) < pos + size + 2:
                raise Incomplete
            body += buf[pos : pos + size]
            if buf[pos + size : pos + size + 2] != b"\r\n":
                raise ValueError("chunk not followed by CRLF")
            pos += size + 2
    elif length is not None:
        framing = "length"
        if len(buf) < pos + int(length):
            raise Incomplete
        body = buf[pos : pos + int(length)]
        pos += int(length)
    else:
        if not eof:
            raise Incomplete
        framing, body, pos = "close", buf[pos:], len(buf)
    return Response(interim, status_line, headers, framing, body, trailers, buf[:pos]), pos


class Client:
    """One raw client connection to a listener."""

    def __init__(self, port: int, *, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(TIMEOUT_S)
        try:
            self.sock.connect((LOCALHOST, port))
        except OSError:
            self.sock.close()
            raise
        self.buf = b""
        self.eof = False

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def abort(self) -> None:
        """Closes with a RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_in_background(self, data: bytes) -> threading.Thread:
        """For pipelines bigger than the socket buffers: writes while the test reads."""

        def write() -> None:
            with contextlib.suppress(OSError):
                self.sock.sendall(data)

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        return thread

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; received so far: {self.buf[:300]!r}")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except TimeoutError:
            raise AssertionError(f"timed out; received so far: {self.buf[:300]!r}") from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        self.buf += data

    def response(self, method: bytes = b"GET", *, timeout: float = TIMEOUT_S) -> Response:
        deadline = time.monotonic() + timeout
        while True:
            try:
                response, used = parse_response(self.buf, method, self.eof)
            except Incomplete:
                if self.eof:
                    raise AssertionError(f"closed before a complete response: {self.buf[:300]!r}") from None
                self._fill(deadline)
                continue
            self.buf = self.buf[used:]
            return response

    def responses(self, methods: list[bytes], *, timeout: float = TIMEOUT_S) -> list[Response]:
        return [self.response(method, timeout=timeout) for method in methods]

    def closed(self, *, timeout: float = 5.0) -> bool:
        """True when the peer closes (nothing more to read) within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except AssertionError:
                return False
        return self.buf == b""

    def rest_until_close(self, *, timeout: float = TIMEOUT_S) -> bytes:
        deadline = time.monotonic() + timeout
        while not self.eof:
            self._fill(deadline)
        rest, self.buf = self.buf, b""
        return rest


def get(path: str = "/", *, version: bytes = b"HTTP/1.1", extra: bytes = b"") -> bytes:
    host = b"Host: t\r\n" if version == b"HTTP/1.1" else b""
    return b"GET " + path.encode() + b" " + version + b"\r\n" + host + extra + b"\r\n"


def chunked_post(path: str, *pieces: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    return b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body


def post(path: str, body: bytes) -> bytes:
    return b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def fetch(port: int, request: bytes, method: bytes = b"GET") -> Response:
    with Client(port) as client:
        client.send(request)
        return client.response(method)




def start_engine() -> LoadBalancerEngine:
    lb = LoadBalancerEngine()
    lb.start()
    return lb


def lb_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == THREAD_NAME}


def tg(arn: str, *targets: RawBackend, algorithm: str = "round_robin") -> TargetGroupSpec:
    return TargetGroupSpec(
        arn=arn,
        algorithm=algorithm,  # type: ignore[arg-type]
        health=NO_CHECKS,
        targets=tuple(TargetSpec(id=b.name, port=b.port) for b in targets),
    )


def forward_listener(tg_arn: str, *, arn: str = "listener", idle_timeout_s: float = 5.0) -> ListenerSpec:
    return ListenerSpec(arn=arn, port=0, idle_timeout_s=idle_timeout_s, rules=(RuleSpec(action=Forward.to(tg_arn)),))


def serve(lb: LoadBalancerEngine, *groups: TargetGroupSpec, listeners: tuple[ListenerSpec, ...] = ()) -> int:
    listeners = listeners or (forward_listener(groups[0].arn),)
    lb.apply(LbSnapshot(listeners=listeners, target_groups=groups))
    port = lb.bound_port(listeners[0].arn)
    assert port
    return port


def key(tg_arn: str, backend: RawBackend) -> TargetKey:
    return TargetKey(tg_arn, backend.name, backend.port)


def served(lb: LoadBalancerEngine, k: TargetKey) -> int:
    core = lb._core
    assert core is not None
    return core.state.request_counts.get(k, 0)

