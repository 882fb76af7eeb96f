"""The compiled fast path (``_fastproxy.c``) against the Python proxy, its reference.

Differential and adversarial: the same raw bytes go through an engine with the fast path and
one without, to raw-socket backends on 127.0.0.1 that record exactly what they receive and
answer exactly what they are told (chunked, close-delimited, interim, garbage, slow...). What
the backend receives and what the client receives must be the same through both engines, up
to ``Date`` values, ``X-Amzn-Trace-Id`` values, the listener's port and chunk boundaries.

Tests parametrized with ``engine`` run once per engine ("fast", "python") against
expectations derived from the reference; tests using ``engines`` drive both in the same test
and compare them directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs

import pytest

from ecsemu.lb import (
    FixedResponse,
    Forward,
    HealthCheckSpec,
    LbSnapshot,
    ListenerSpec,
    LoadBalancerEngine,
    PathPattern,
    RuleSpec,
    TargetGroupSpec,
    TargetKey,
    TargetSpec,
    fastpath,
)
from ecsemu.lb.engine import THREAD_NAME
from ecsemu.lb.responses import error_response, html_page

Header = tuple[bytes, bytes]

LOCALHOST: Final = "127.0.0.1"
ENGINES: Final = ("fast", "python")
NO_CHECKS: Final = HealthCheckSpec(enabled=False)
TIMEOUT_S: Final = 10.0
TRACE_RE: Final = re.compile(rb"X-Amzn-Trace-Id: Root=1-([0-9a-f]{8})-[0-9a-f]{24}\r\n")
DATE_RE: Final = re.compile(rb"\r\nDate: [^\r\n]*")
LINGER_RESET: Final = struct.pack("ii", 1, 0)
"""SO_LINGER on, 0 s: close() sends a RST."""


# --------------------------------------------------------------------------- polling


def wait_until(predicate: Callable[[], object], *, timeout: float = TIMEOUT_S, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.005)


# --------------------------------------------------------------------------- raw backends


@dataclass
class Received:
    """One request as a backend read it off its socket, byte for byte."""

    conn: int
    """Which connection of the backend (1 = the first it accepted)."""
    index: int
    """Which request on that connection (1 = the first)."""
    head: bytes
    raw_body: bytes
    body: bytes
    """The body decoded (chunked framing removed)."""

    @property
    def raw(self) -> bytes:
        return self.head + self.raw_body

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    @property
    def method(self) -> bytes:
        return self.request_line.split(b" ")[0]

    @property
    def target(self) -> bytes:
        return self.request_line.split(b" ")[1]

    @property
    def path(self) -> str:
        return self.target.split(b"?", 1)[0].decode("latin-1")

    @property
    def query(self) -> dict[str, str]:
        _, _, query = self.target.decode("latin-1").partition("?")
        return {k: v[0] for k, v in parse_qs(query).items()}

    @property
    def headers(self) -> list[Header]:
        return parse_fields(self.head[:-4].split(b"\r\n")[1:])


def parse_fields(lines: list[bytes]) -> list[Header]:
    headers: list[Header] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ValueError(f"malformed header line {line!r}")
        headers.append((name, value.strip(b" \t")))
    return headers


def field_value(headers: list[Header], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


class BackendConn:
    """The backend's side of one connection: reads requests, writes whatever it is told."""

    def __init__(self, backend: RawBackend, sock: socket.socket, number: int) -> None:
        self.backend = backend
        self.sock = sock
        self.number = number
        self.buf = bytearray()
        self.served = 0

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def _line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            if not self._fill():
                raise ConnectionError("closed inside a chunked body")
        line = bytes(self.buf[: end + 2])
        del self.buf[: end + 2]
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("closed inside a body")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_request(self) -> Received | None:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            if not self._fill():
                return None
        head = bytes(self.buf[: end + 4])
        del self.buf[: end + 4]
        headers = parse_fields(head[:-4].split(b"\r\n")[1:])
        coding = field_value(headers, b"transfer-encoding")
        length = field_value(headers, b"content-length")
        raw = bytearray()
        body = bytearray()
        if coding is not None and coding.lower().endswith(b"chunked"):
            while True:
                line = self._line()
                raw += line
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while (trailer := self._line()) != b"\r\n":
                        raw += trailer
                    raw += b"\r\n"
                    break
                piece = self._exact(size + 2)
                raw += piece
                body += piece[:-2]
        elif length is not None:
            raw += self._exact(int(length))
            body = raw
        self.served += 1
        received = Received(self.number, self.served, head, bytes(raw), bytes(body))
        self.backend.record(received)
        return received

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wait(self, seconds: float) -> bool:
        """Waits ``seconds``, or less if the peer closes first; True if the peer is still there."""
        deadline = time.monotonic() + seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                try:
                    if not self._fill():
                        return False
                except TimeoutError:
                    return True
            return True
        finally:
            self.sock.settimeout(None)

    def wait_for(self, event: threading.Event, cap_s: float = TIMEOUT_S) -> bool:
        """Waits for ``event`` (at most ``cap_s``), or less if the peer closes first."""
        deadline = time.monotonic() + cap_s
        while not event.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([self.sock], [], [], 0.01)
            if readable and not self._fill():
                return False
        return True


Route = Callable[[BackendConn, Received], bool]
"""Answers one request; returns whether the connection carries on."""


def http_response(status: bytes, headers: list[Header], body: bytes = b"") -> bytes:
    lines = [b"HTTP/1.1 " + status, *(n + b": " + v for n, v in headers), b"Content-Length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def route_default(conn: BackendConn, req: Received) -> bool:
    body = conn.backend.name.encode() + b" " + req.target
    conn.send(http_response(b"200 OK", [(b"X-Backend", conn.backend.name.encode())], body))
    return True


def route_echo(conn: BackendConn, req: Received) -> bool:
    conn.send(http_response(b"200 OK", [(b"X-Backend", conn.backend.name.encode())], req.body))
    return True


CHUNKED_RESPONSE: Final = (
    b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nTrailer: X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n"
)


def route_chunked(conn: BackendConn, req: Received) -> bool:
    if req.method == b"HEAD":
        conn.send(CHUNKED_RESPONSE.split(b"\r\n\r\n")[0] + b"\r\n\r\n")
    else:
        conn.send(CHUNKED_RESPONSE)
    return True


def route_trickle(conn: BackendConn, req: Received) -> bool:
    """The chunked response with trailers, one byte per write."""
    for i in range(len(CHUNKED_RESPONSE)):
        conn.send(CHUNKED_RESPONSE[i : i + 1])
    return True


def route_close(conn: BackendConn, req: Received) -> bool:
    conn.send(b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nConnection: close\r\n\r\nuntil-")
    conn.send(b"close")
    return False


def route_close10(conn: BackendConn, req: Received) -> bool:
    conn.send(b"HTTP/1.0 200 OK\r\nX-Backend: a\r\n\r\nold-style body")
    return False


def route_head(conn: BackendConn, req: Received) -> bool:
    head = b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n"
    conn.send(head if req.method == b"HEAD" else head + b"x" * 1234)
    return True


def route_204(conn: BackendConn, req: Received) -> bool:
    conn.send(b"HTTP/1.1 204 No Content\r\nX-Backend: a\r\n\r\n")
    return True


def route_304(conn: BackendConn, req: Received) -> bool:
    conn.send(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 10\r\n\r\n')
    return True


def route_interim(conn: BackendConn, req: Received) -> bool:
    conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nKeep-Alive: timeout=5\r\n\r\n")
    conn.send(http_response(b"200 OK", [(b"X-Backend", b"a")], b"final"))
    return True


def route_hop(conn: BackendConn, req: Received) -> bool:
    conn.send(
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=5, max=100\r\n"
        b"Proxy-Connection: keep-alive\r\nX-Private: secret\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\n"
        b"X-Public: yes\r\nContent-Length: 2\r\n\r\nok"
    )
    return True


def route_many_headers(conn: BackendConn, req: Received) -> bool:
    """120 header fields (as a page setting many cookies has)."""
    headers = [(b"Set-Cookie", b"c%03d=v%03d; Path=/" % (i, i)) for i in range(120)]
    conn.send(http_response(b"200 OK", headers, b"cookies"))
    return True


MANY_OPTIONS: Final = tuple(b"X-O%d" % i for i in range(1, 10))


def route_many_options(conn: BackendConn, req: Received) -> bool:
    """A Connection field naming nine hop-by-hop fields."""
    headers = [(b"Connection", b"keep-alive, " + b", ".join(MANY_OPTIONS))]
    headers += [(name, b"private") for name in MANY_OPTIONS]
    headers.append((b"X-Kept", b"yes"))
    conn.send(http_response(b"200 OK", headers, b"options"))
    return True


def route_garbage(conn: BackendConn, req: Received) -> bool:
    conn.send(b"THIS IS NOT HTTP\r\n\r\n")
    return False


def route_eof(conn: BackendConn, req: Received) -> bool:
    return False  # closes (FIN) without a byte of answer


def route_reset(conn: BackendConn, req: Received) -> bool:
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    return False  # closes with a RST


def route_slow(conn: BackendConn, req: Received) -> bool:
    if not conn.wait(int(req.query.get("ms", "3000")) / 1000):
        return False
    return route_default(conn, req)


def route_hold(conn: BackendConn, req: Received) -> bool:
    """Answers once the test sets the backend's ``release`` event."""
    if not conn.wait_for(conn.backend.release):
        return False
    return route_default(conn, req)


def pattern(size: int) -> bytes:
    block = bytes(range(256)) * 256
    return (block * (size // len(block) + 1))[:size]


def route_big(conn: BackendConn, req: Received) -> bool:
    size = int(req.query["size"])
    close = req.query.get("close") == "1"
    headers = b"HTTP/1.1 200 OK\r\nX-Backend: a\r\n"
    conn.send(headers + (b"Connection: close\r\n\r\n" if close else b"Content-Length: %d\r\n\r\n" % size))
    body = pattern(size)
    for i in range(0, size, 65536):
        conn.send(body[i : i + 65536])
    return not close


def route_stale(conn: BackendConn, req: Received) -> bool:
    """Answers the first request of a connection; closes at the second without answering, as
    a server does that closes idle keep-alive connections just as a request comes in."""
    if conn.served > 1:
        return False
    return route_default(conn, req)


def route_close_after(conn: BackendConn, req: Received) -> bool:
    """Answers (keep-alive, as far as the proxy can tell), then closes at once."""
    route_default(conn, req)
    return False


def route_cut(conn: BackendConn, req: Received) -> bool:
    conn.send(b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nContent-Length: 100\r\n\r\n0123456789")
    return False


def route_cut_chunked(conn: BackendConn, req: Received) -> bool:
    conn.send(b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
    return False


def route_stale_reset(conn: BackendConn, req: Received) -> bool:
    """As ``/stale``, but the close at the second request is a RST."""
    if conn.served > 1:
        return route_reset(conn, req)
    return route_default(conn, req)


def route_slow_eof(conn: BackendConn, req: Received) -> bool:
    """Closes without answering, after ``ms`` milliseconds."""
    conn.wait(int(req.query.get("ms", "400")) / 1000)
    return False


def route_interim_then_eof(conn: BackendConn, req: Received) -> bool:
    conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    return False


def route_te_gzip(conn: BackendConn, req: Received) -> bool:
    """A transfer coding other than chunked: the body ends at the close."""
    conn.send(b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nTransfer-Encoding: gzip\r\n\r\nnot-really-gzip")
    return False


def route_keep_alive10(conn: BackendConn, req: Received) -> bool:
    conn.send(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok")
    return True


def route_extra_bytes(conn: BackendConn, req: Received) -> bool:
    """Bytes beyond the Content-Length body: the connection can no longer be trusted."""
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
    return True


def route_head_with_body(conn: BackendConn, req: Received) -> bool:
    """A HEAD answered with a body anyway."""
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    return True


def route_big_head(conn: BackendConn, req: Received) -> bool:
    conn.send(http_response(b"200 OK", [(b"X-Large", b"l" * 40000)], b"large head"))
    return True


ROUTES: Final[dict[str, Route]] = {
    # answers
    "/echo": route_echo,
    "/chunked": route_chunked,
    "/trickle": route_trickle,
    "/close": route_close,
    "/close10": route_close10,
    "/te-gzip": route_te_gzip,
    "/keep-alive10": route_keep_alive10,
    "/head": route_head,
    "/head-with-body": route_head_with_body,
    "/204": route_204,
    "/304": route_304,
    "/interim": route_interim,
    "/hop": route_hop,
    "/many-headers": route_many_headers,
    "/many-options": route_many_options,
    "/big-head": route_big_head,
    "/extra-bytes": route_extra_bytes,
    "/big": route_big,
    # timing
    "/slow": route_slow,
    "/hold": route_hold,
    # failures
    "/garbage": route_garbage,
    "/eof": route_eof,
    "/reset": route_reset,
    "/slow-eof": route_slow_eof,
    "/interim-then-eof": route_interim_then_eof,
    "/cut": route_cut,
    "/cut-chunked": route_cut_chunked,
    # connections
    "/stale": route_stale,
    "/stale-reset": route_stale_reset,
    "/close-after": route_close_after,
}
"""By path (the query gives parameters); any other path: ``route_default``."""


class RawBackend:
    """A threaded raw-socket HTTP server on 127.0.0.1 (port 0): one thread per connection."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.release = threading.Event()
        self.received: list[Received] = []
        self.connections = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((LOCALHOST, 0))
        self._listener.listen(128)
        self._listener.settimeout(0.02)
        self.port = int(self._listener.getsockname()[1])
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"backend-{name}", daemon=True)
        self._acceptor.start()

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]

    def live_connections(self) -> int:
        with self._lock:
            return len(self._live)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._stopping.is_set():
                    sock.close()
                    return
                self.connections += 1
                self._live.add(sock)
                thread = threading.Thread(target=self._serve, args=(sock, self.connections), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        conn = BackendConn(self, sock, number)
        try:
            while not self._stopping.is_set():
                req = conn.read_request()
                if req is None or not ROUTES.get(req.path, route_default)(conn, req):
                    break
        except OSError:
            pass  # the proxy went away: that is some tests' point
        except Exception as error:
            with self._lock:
                self.errors.append(repr(error))
        finally:
            with self._lock:
                self._live.discard(sock)
                sock.close()

    def stop(self) -> None:
        self._stopping.set()
        self.release.set()
        self._acceptor.join(5)
        self._listener.close()
        with self._lock:
            for sock in self._live:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)


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


# --------------------------------------------------------------------------- engines


def start_engine(kind: str) -> LoadBalancerEngine:
    if kind == "fast" and not fastpath.available():
        pytest.fail("the compiled fast path is not built (pip install -e . builds it)")
    lb = LoadBalancerEngine(fast_path=kind == "fast")
    lb.start()
    assert lb.fast_path is (kind == "fast")
    return lb


def lb_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name in (THREAD_NAME, fastpath.THREAD_NAME)}


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[LoadBalancerEngine]:
    others = lb_threads()
    lb = start_engine(request.param)
    yield lb
    lb.stop()
    assert lb_threads() <= others


@pytest.fixture
def engines() -> Iterator[dict[str, LoadBalancerEngine]]:
    others = lb_threads()
    both = {kind: start_engine(kind) for kind in ENGINES}
    yield both
    for lb in both.values():
        lb.stop()
    assert lb_threads() <= others


@pytest.fixture
def backends() -> Iterator[Callable[[str], RawBackend]]:
    started: list[RawBackend] = []

    def make(name: str) -> RawBackend:
        started.append(RawBackend(name))
        return started[-1]

    yield make
    for backend in started:
        backend.stop()
    assert [b.errors for b in started] == [[] for _ in started]


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


def served_by_fast_path(lb: LoadBalancerEngine, k: TargetKey) -> int:
    """Requests the compiled fast path forwarded itself (0 for the Python engine)."""
    core = lb._core
    assert core is not None
    return 0 if core.fast is None else core.fast.counters()[1].get(k, 0)


def served_by_python(lb: LoadBalancerEngine, k: TargetKey) -> int:
    core = lb._core
    assert core is not None
    return core.state.request_counts.get(k, 0)


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
    return count


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- 1. what the backend receives


def upstream(request_line: bytes, fields: list[bytes], xff: bytes, body: bytes = b"") -> bytes:
    """The request a target should receive (trace id and listener port as placeholders)."""
    added = [b"X-Forwarded-For: " + xff, b"X-Forwarded-Proto: http", b"X-Forwarded-Port: <port>",
             b"X-Amzn-Trace-Id: <trace>"]
    return b"\r\n".join([request_line, *fields, *added]) + b"\r\n\r\n" + body


BIG_FIELD: Final = b"X-Big: " + b"b" * 20000
MANY_FIELDS: Final = [b"X-F-%03d: %d" % (i, i) for i in range(110)]

HANDED_OFF_REQUESTS: Final = frozenset({"connection-names-a-field", "head-over-16k", "over-100-fields"})
"""Request cases the fast path hands to the Python engine; it forwards the others itself."""

REQUEST_CASES: Final[dict[str, tuple[bytes, bytes]]] = {
    "rewrite": (
        b"POST /submit?x=1&y=%20 HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: raw-test\r\n"
        b"X-Forwarded-For: 203.0.113.7, 198.51.100.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n"
        b"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-Checksum\r\n"
        b"Proxy-Connection: keep-alive\r\nx-Custom-CASE:   padded value \t\r\nAccept: */*\r\n"
        b"Content-Length: 11\r\n\r\nhello world",
        upstream(
            b"POST /submit?x=1&y=%20 HTTP/1.1",
            [b"Host: app.example.com", b"User-Agent: raw-test", b"x-Custom-CASE: padded value", b"Accept: */*",
             b"Content-Length: 11"],
            b"203.0.113.7, 198.51.100.2, 127.0.0.1",
            b"hello world",
        ),
    ),
    "http10-without-host": (
        b"GET /old HTTP/1.0\r\nAccept: text/html\r\n\r\n",
        upstream(b"GET /old HTTP/1.1", [b"Accept: text/html"], b"127.0.0.1"),
    ),
    "xff-repeated": (
        b"GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h"], b"10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1"),
    ),
    "xff-empty": (
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h"], b"127.0.0.1"),
    ),
    "empty-field-value": (
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Spaces:    \r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h", b"X-Empty: ", b"X-Spaces: "], b"127.0.0.1"),
    ),
    "head-method": (
        b"HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n",
        upstream(b"HEAD /head HTTP/1.1", [b"Host: h"], b"127.0.0.1"),
    ),
    "connection-names-a-field": (
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Drop-Me\r\nX-Drop-Me: 1\r\nX-Keep: 2\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h", b"X-Keep: 2"], b"127.0.0.1"),
    ),
    "head-over-16k": (
        b"GET / HTTP/1.1\r\nHost: h\r\n" + BIG_FIELD + b"\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h", BIG_FIELD], b"127.0.0.1"),
    ),
    "over-100-fields": (
        b"GET / HTTP/1.1\r\nHost: h\r\n" + b"\r\n".join(MANY_FIELDS) + b"\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h", *MANY_FIELDS], b"127.0.0.1"),
    ),
}


def normalized_request(received: Received, listener_port: int) -> bytes:
    raw = received.raw
    traces = TRACE_RE.findall(raw)
    assert len(traces) == 1, raw[:2000]
    assert abs(int(traces[0], 16) - time.time()) < 60  # the trace id's epoch is now
    port_field = b"\r\nX-Forwarded-Port: %d\r\n" % listener_port
    assert raw.count(port_field) == 1, raw[:2000]
    raw = raw.replace(port_field, b"\r\nX-Forwarded-Port: <port>\r\n")
    return TRACE_RE.sub(b"X-Amzn-Trace-Id: <trace>\r\n", raw)


@pytest.mark.parametrize("case", list(REQUEST_CASES))
def test_the_backend_receives_the_same_request_through_both_engines(
    case: str, engines: dict[str, LoadBalancerEngine], backends: Callable[[str], RawBackend]
) -> None:
    request, expected = REQUEST_CASES[case]
    a = backends("a")
    seen: dict[str, bytes] = {}
    for kind, lb in engines.items():
        port = serve(lb, tg("tg", a))
        method = request.split(b" ")[0]
        response = fetch(port, request, method)
        assert response.status == 200, (kind, response.raw)
        seen[kind] = normalized_request(a.requests()[-1], port)
    assert seen["fast"] == seen["python"]
    assert seen["python"] == expected
    assert served_by_fast_path(engines["fast"], key("tg", a)) == (0 if case in HANDED_OFF_REQUESTS else 1)


def test_a_request_trickled_byte_by_byte_arrives_whole(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    request = post("/echo", b"trickled body").replace(b"Host: t\r\n", b"Host: t\r\nX-Forwarded-For: 1.2.3.4\r\n")
    with Client(port) as client:
        for i in range(len(request)):
            client.send(request[i : i + 1])
        response = client.response()
    assert (response.status, response.body) == (200, b"trickled body")
    assert normalized_request(a.requests()[-1], port) == upstream(
        b"POST /echo HTTP/1.1", [b"Host: t", b"Content-Length: 13"], b"1.2.3.4, 127.0.0.1", b"trickled body"
    )
    if engine.fast_path:
        assert served_by_fast_path(engine, key("tg", a)) == 1


# --------------------------------------------------------------------------- 2. what the client receives


@dataclass(frozen=True)
class ClientCase:
    request: bytes
    method: bytes = b"GET"
    status: int = 200
    body: bytes = b""
    framing: str = "length"
    keep: bool = True
    present: tuple[Header, ...] = ()
    absent: tuple[bytes, ...] = ()
    trailers: tuple[Header, ...] = ()
    interim: tuple[int, ...] = ()


HOP_BY_HOP: Final = (b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade")

CLIENT_CASES: Final[dict[str, ClientCase]] = {
    "content-length": ClientCase(get("/length"), body=b"a /length", present=((b"X-Backend", b"a"),)),
    "chunked-with-trailers": ClientCase(
        get("/chunked"), body=b"hello, world", framing="chunked", trailers=((b"X-Checksum", b"abc"),),
        present=((b"Transfer-Encoding", b"chunked"),), absent=(b"content-length", b"trailer"),
    ),
    "chunked-trickled-byte-by-byte": ClientCase(
        get("/trickle"), body=b"hello, world", framing="chunked", trailers=((b"X-Checksum", b"abc"),),
    ),
    "chunked-to-an-http10-client": ClientCase(
        get("/chunked", version=b"HTTP/1.0", extra=b"Connection: keep-alive\r\n"), body=b"hello, world",
        framing="close", keep=False, present=((b"Connection", b"close"),), absent=(b"transfer-encoding",),
    ),
    "close-delimited-to-an-http11-client": ClientCase(
        get("/close"), body=b"until-close", framing="chunked", present=((b"Transfer-Encoding", b"chunked"),),
    ),
    "close-delimited-to-an-http10-client": ClientCase(
        get("/close", version=b"HTTP/1.0"), body=b"until-close", framing="close", keep=False,
        present=((b"Connection", b"close"),), absent=(b"transfer-encoding",),
    ),
    "http10-target-close-delimited": ClientCase(
        get("/close10"), body=b"old-style body", framing="chunked",
    ),
    "head": ClientCase(
        b"HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n", method=b"HEAD", framing="none",
        present=((b"Content-Length", b"1234"), (b"Content-Type", b"text/plain")),
    ),
    "head-of-a-chunked-resource": ClientCase(
        b"HEAD /chunked HTTP/1.1\r\nHost: t\r\n\r\n", method=b"HEAD", framing="none",
        absent=(b"transfer-encoding", b"content-length"),
    ),
    "204": ClientCase(get("/204"), status=204, framing="none"),
    "304": ClientCase(get("/304"), status=304, framing="none", present=((b"ETag", b'"v1"'), (b"Content-Length", b"10"))),
    "interim-100-and-103": ClientCase(get("/interim"), body=b"final", interim=(100, 103)),
    "hop-by-hop-response-fields": ClientCase(
        get("/hop"), body=b"ok", present=((b"X-Public", b"yes"),), absent=(*HOP_BY_HOP, b"x-private"),
    ),
    "client-asks-close": ClientCase(
        get("/", extra=b"Connection: close\r\n"), body=b"a /", keep=False, present=((b"Connection", b"close"),),
    ),
    "http10-keep-alive": ClientCase(
        get("/", version=b"HTTP/1.0", extra=b"Connection: keep-alive\r\n"), body=b"a /",
        present=((b"Connection", b"keep-alive"),),
    ),
    "http10-default-close": ClientCase(
        get("/", version=b"HTTP/1.0"), body=b"a /", keep=False, present=((b"Connection", b"close"),),
    ),
    "transfer-coding-gzip-until-close": ClientCase(
        get("/te-gzip"), body=b"not-really-gzip", framing="chunked", present=((b"Transfer-Encoding", b"chunked"),),
    ),
    "http10-target-keep-alive": ClientCase(get("/keep-alive10"), body=b"ok", absent=(b"keep-alive", b"connection")),
    "bytes-beyond-the-body": ClientCase(get("/extra-bytes"), body=b"ok"),
    "head-answered-with-a-body": ClientCase(
        b"HEAD /head-with-body HTTP/1.1\r\nHost: t\r\n\r\n", method=b"HEAD", framing="none",
        present=((b"Content-Length", b"5"),),
    ),
    "interim-then-eof": ClientCase(
        get("/interim-then-eof"), status=502, body=html_page(502), interim=(100,),
    ),
    "40k-response-head": ClientCase(get("/big-head"), body=b"large head", present=((b"X-Large", b"l" * 40000),)),
    "120-response-fields": ClientCase(
        get("/many-headers"), body=b"cookies", present=((b"Set-Cookie", b"c000=v000; Path=/"),),
    ),
    "connection-naming-9-fields": ClientCase(
        get("/many-options"), body=b"options", present=((b"X-Kept", b"yes"),),
        absent=tuple(name.lower() for name in MANY_OPTIONS),
    ),
}


@dataclass
class Outcome:
    response: Response
    kept_alive: bool
    follow_up: bytes = b""

    def shape(self) -> tuple[object, ...]:
        return (self.response.shape(), self.kept_alive, self.follow_up)


def converse(port: int, case: ClientCase) -> Outcome:
    """Sends the case's request, reads the answer, then finds out whether the connection lives
    on: a follow-up request when it should, waiting for the close when it should not."""
    with Client(port) as client:
        client.send(case.request)
        response = client.response(case.method)
        if case.keep:
            client.send(get("/after"))
            try:
                after = client.response()
            except AssertionError:
                return Outcome(response, kept_alive=False)
            return Outcome(response, kept_alive=True, follow_up=normalized(after.raw))
        return Outcome(response, kept_alive=not client.closed())


@pytest.mark.parametrize("case", list(CLIENT_CASES))
def test_the_client_receives_the_same_response_through_both_engines(
    case: str, engines: dict[str, LoadBalancerEngine], backends: Callable[[str], RawBackend]
) -> None:
    spec = CLIENT_CASES[case]
    a = backends("a")
    outcomes = {kind: converse(serve(lb, tg("tg", a)), spec) for kind, lb in engines.items()}
    assert outcomes["fast"].shape() == outcomes["python"].shape()
    if outcomes["python"].response.framing != "chunked":
        assert normalized(outcomes["fast"].response.raw) == normalized(outcomes["python"].response.raw)
    for kind, outcome in outcomes.items():
        response = outcome.response
        assert (kind, response.status, response.body, response.framing) == (kind, spec.status, spec.body, spec.framing)
        assert (kind, outcome.kept_alive) == (kind, spec.keep)
        assert response.status_line.startswith(b"HTTP/1.1 ")
        assert [int(head[9:12]) for head in response.interim] == list(spec.interim)
        for name, value in spec.present:
            assert (kind, response.get(name)) == (kind, value)
        assert not response.names() & set(spec.absent), (kind, response.headers)
        assert (kind, response.trailers) == (kind, list(spec.trailers))
        if spec.keep:
            assert outcome.follow_up.startswith(b"HTTP/1.1 200 OK\r\n") and outcome.follow_up.endswith(b"a /after")
    assert served_by_fast_path(engines["fast"], key("tg", a)) == (2 if spec.keep else 1)


@pytest.mark.parametrize("shape", ["one-request", "pipelined"])
def test_a_client_that_half_closes_still_gets_its_answers(
    shape: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    """``shutdown(SHUT_WR)`` after the last request (as ``nc -N`` or some HTTP/1.0 clients do):
    the requests already sent are answered, then the connection closes."""
    a = backends("a")
    port = serve(engine, tg("tg", a))
    paths = ["/one"] if shape == "one-request" else ["/one", "/two", "/three"]
    with Client(port) as client:
        client.send(b"".join(get(p) for p in paths))
        client.sock.shutdown(socket.SHUT_WR)
        rest = client.rest_until_close()
    answers = []
    while rest:
        response, used = parse_response(rest, b"GET", eof=True)
        answers.append(response.body)
        rest = rest[used:]
    assert answers == [b"a " + p.encode() for p in paths]


# --------------------------------------------------------------------------- 3. pipelining


def test_a_pipeline_comes_back_in_order_and_complete(
    engines: dict[str, LoadBalancerEngine], backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    requests = [get(f"/p{i}") for i in range(20)]
    requests[5] = b"HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n"
    requests[9] = post("/echo", b"body-nine")
    requests[12] = get("/chunked")
    requests[15] = get("/interim")
    methods = [r.split(b" ")[0] for r in requests]
    shapes = {}
    for kind, lb in engines.items():
        with Client(serve(lb, tg("tg", a))) as client:
            client.send(b"".join(requests))
            responses = client.responses(methods)
            client.send(get("/last"))
            assert client.response().body == b"a /last"
        shapes[kind] = [r.shape() for r in responses]
        bodies = [r.body for r in responses]
        expected = [b"a /p%d" % i for i in range(20)]
        expected[5], expected[9], expected[12], expected[15] = b"", b"body-nine", b"hello, world", b"final"
        assert bodies == expected, kind
    assert shapes["fast"] == shapes["python"]
    assert served_by_fast_path(engines["fast"], key("tg", a)) == 21


@pytest.mark.parametrize("first", ["small", "1MiB"])
def test_a_pipeline_handed_off_mid_stream(
    first: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    """Plain, then a chunked body (the fast path hands the connection to Python between the
    two, once its answer is out), then plain again: all answered in order, intact."""
    a = backends("a")
    port = serve(engine, tg("tg", a))
    size = 1024 * 1024
    first_request = get("/first") if first == "small" else get(f"/big?size={size}")
    with Client(port) as client:
        client.send(first_request + chunked_post("/echo", b"hello", b" handed", b" off") + get("/third"))
        responses = client.responses([b"GET", b"POST", b"GET"])
        client.send(get("/fourth"))
        responses.append(client.response())
    bodies = [r.body for r in responses]
    assert bodies == [b"a /first" if first == "small" else pattern(size), b"hello handed off", b"a /third",
                      b"a /fourth"]
    assert [r.path for r in a.requests()] == ["/first" if first == "small" else "/big", "/echo", "/third", "/fourth"]
    assert a.requests("/echo")[0].body == b"hello handed off"
    if engine.fast_path:
        assert served_by_fast_path(engine, key("tg", a)) == 1
        assert served_by_python(engine, key("tg", a)) == 3


def test_a_pipeline_stops_at_connection_close(
    engines: dict[str, LoadBalancerEngine], backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    for kind, lb in engines.items():
        with Client(serve(lb, tg("tg", a))) as client:
            client.send(get("/1") + get("/2", extra=b"Connection: close\r\n") + get("/3"))
            first, second = client.responses([b"GET", b"GET"])
            assert (first.body, second.body, second.get(b"Connection")) == (b"a /1", b"a /2", b"close"), kind
            assert client.closed(), kind
    assert [r.path for r in a.requests()] == ["/1", "/2"] * 2


def test_a_pipeline_larger_than_the_pipeline_buffer(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a, b))
    count = 250
    pad = b"X-Pad: " + b"p" * 400 + b"\r\n"
    with Client(port) as client:
        writer = client.send_in_background(b"".join(get(f"/n{i}", extra=pad) for i in range(count)))
        responses = client.responses([b"GET"] * count)
        writer.join(TIMEOUT_S)
    assert [r.body for r in responses] == [b"%s /n%d" % (b"ab"[i % 2 : i % 2 + 1], i) for i in range(count)]
    if engine.fast_path:
        assert served_by_fast_path(engine, key("tg", a)) + served_by_fast_path(engine, key("tg", b)) == count


# --------------------------------------------------------------------------- 4. keep-alive and balancing


def test_two_hundred_requests_on_one_connection_round_robin_exactly(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a, b))
    seen = []
    with Client(port) as client:
        for i in range(200):
            client.send(get(f"/r{i}"))
            response = client.response()
            assert response.status == 200
            seen.append(response.get(b"X-Backend"))
    assert seen == [b"a", b"b"] * 100
    assert (a.connections, b.connections) == (1, 1)  # pooled upstream connections, reused each time
    assert [r.index for r in a.requests()] == list(range(1, 101))
    counts = engine.request_counts()
    assert (counts[key("tg", a)], counts[key("tg", b)]) == (100, 100)
    if engine.fast_path:
        assert served_by_fast_path(engine, key("tg", a)) == 100


def test_weighted_forward_order_is_the_same(
    engines: dict[str, LoadBalancerEngine], backends: Callable[[str], RawBackend]
) -> None:
    a, b = backends("a"), backends("b")
    split = ListenerSpec(arn="listener", port=0, rules=(RuleSpec(action=Forward(weights=(("tg-a", 3), ("tg-b", 1)))),))
    orders = {}
    for kind, lb in engines.items():
        port = serve(lb, tg("tg-a", a), tg("tg-b", b), listeners=(split,))
        with Client(port) as client:
            order = []
            for _ in range(8):
                client.send(get())
                order.append(client.response().get(b"X-Backend"))
        orders[kind] = order
    assert orders["fast"] == orders["python"] == [b"a", b"a", b"b", b"a"] * 2


def test_a_new_snapshot_applies_to_open_keep_alive_connections(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a))
    with Client(port) as client, Client(port) as held:
        held.send(get("/hold"))
        wait_until(lambda: a.requests("/hold"), what="the held request at a")
        client.send(get("/1"))
        assert client.response().body == b"a /1"  # on a second connection to a, now idle in the pool
        assert a.live_connections() == 2
        serve(engine, tg("tg", b))  # a deregistered, b registered
        wait_until(lambda: a.live_connections() == 1, what="the idle pooled connection to a closed")
        client.send(get("/2"))
        assert client.response().body == b"b /2"
        a.release.set()
        assert held.response().body == b"a /hold"  # the request in flight completes
        held.send(get("/3"))
        assert held.response().body == b"b /3"
        # A rule that needs the request's path: the next request follows it, on the same connection.
        teapot = RuleSpec(priority=1, conditions=(PathPattern(values=("/fixed",)),),
                          action=FixedResponse(status=418, body="teapot"))
        serve(engine, tg("tg", b), listeners=(ListenerSpec(arn="listener", port=0, idle_timeout_s=5.0,
                                                           rules=(teapot, RuleSpec(action=Forward.to("tg")))),))
        client.send(get("/fixed"))
        fixed = client.response()
        assert (fixed.status, fixed.body) == (418, b"teapot")
        client.send(get("/4"))
        assert client.response().body == b"b /4"
    assert engine.bound_port("listener") == port


def test_concurrent_clients_each_get_their_own_answers(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a, b))
    failures: list[str] = []

    def client_loop(n: int) -> None:
        try:
            with Client(port) as client:
                for i in range(25):
                    tag = f"c{n}-r{i}"
                    kind = (n + i) % 3
                    if i == 20 and n % 4 == 0:  # this connection goes on in the Python engine
                        client.send(chunked_post("/echo", tag.encode(), b"-chunked"))
                        response = client.response(b"POST")
                        ok = response.body == tag.encode() + b"-chunked"
                    elif kind == 0:
                        client.send(get(f"/{tag}"))
                        response = client.response()
                        ok = response.body.endswith(b" /" + tag.encode())
                    elif kind == 1:
                        client.send(post("/echo", tag.encode() * 50))
                        response = client.response(b"POST")
                        ok = response.body == tag.encode() * 50
                    else:
                        client.send(get(f"/big?size={1000 + n * 37 + i}"))
                        response = client.response()
                        ok = response.body == pattern(1000 + n * 37 + i)
                    if not ok or response.status != 200:
                        failures.append(f"{tag}: {response.raw[:200]!r}")
        except (OSError, AssertionError) as error:
            failures.append(f"client {n}: {error!r}")

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S * 2)
    assert failures == []
    counts = engine.request_counts()
    assert counts[key("tg", a)] + counts[key("tg", b)] == 32 * 25
    if engine.fast_path:  # all but the requests of the 8 connections handed off after their 20th
        assert served_by_fast_path(engine, key("tg", a)) + served_by_fast_path(engine, key("tg", b)) == 32 * 25 - 8 * 5
    assert engine.in_flight("tg", "a", a.port) == engine.in_flight("tg", "b", b.port) == 0


# --------------------------------------------------------------------------- 5. errors


def error_page(status: int, *, keep: bool = True, head: bool = False) -> bytes:
    return error_response(status, b"<date>", keep_alive=keep, head_only=head)


def test_502_when_the_target_refuses(engine: LoadBalancerEngine) -> None:
    gone = TargetGroupSpec(arn="tg", health=NO_CHECKS, targets=(TargetSpec(id="gone", port=free_port()),))
    port = serve(engine, gone)
    with Client(port) as client:
        client.send(get())
        assert normalized(client.response().raw) == error_page(502)
        client.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert normalized(client.response(b"HEAD").raw) == error_page(502, head=True)
        client.send(get(extra=b"Connection: close\r\n"))
        assert normalized(client.response().raw) == error_page(502, keep=False)
        assert client.closed()
    assert engine.in_flight("tg", "gone", gone.targets[0].port) == 0
    assert engine.request_counts()[TargetKey("tg", "gone", gone.targets[0].port)] == 3


@pytest.mark.parametrize("failure", ["eof", "reset", "garbage"])
def test_502_when_the_target_fails_before_answering(
    failure: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    with Client(port) as client:
        client.send(get(f"/{failure}"))
        assert normalized(client.response().raw) == error_page(502)
        assert engine.in_flight("tg", "a", a.port) == 0
        client.send(get("/fine"))  # the client connection was kept, as the 502 said
        assert client.response().body == b"a /fine"
        client.send(b"HEAD /%s HTTP/1.1\r\nHost: t\r\n\r\n" % failure.encode())
        assert normalized(client.response(b"HEAD").raw) == error_page(502, head=True)
    if engine.fast_path:
        assert served_by_fast_path(engine, key("tg", a)) == 3


def test_error_pages_are_byte_identical(
    engines: dict[str, LoadBalancerEngine], backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    pages: dict[str, list[bytes]] = {}
    for kind, lb in engines.items():
        gone = TargetGroupSpec(arn="tg-gone", health=NO_CHECKS, targets=(TargetSpec(id="gone", port=free_port()),))
        listeners = (forward_listener("tg", arn="main"), forward_listener("tg-gone", arn="gone"),
                     forward_listener("tg-empty", arn="empty"))
        serve(lb, tg("tg", a), gone, tg("tg-empty"), listeners=listeners)
        main, refused, empty = (lb.bound_port(arn) for arn in ("main", "gone", "empty"))
        assert main and refused and empty
        pages[kind] = [
            normalized(fetch(main, get("/garbage")).raw),
            normalized(fetch(refused, get()).raw),
            normalized(fetch(empty, get()).raw),
            normalized(fetch(empty, get(extra=b"Connection: close\r\n")).raw),
        ]
    assert pages["fast"] == pages["python"] == [error_page(502), error_page(502), error_page(503),
                                                error_page(503, keep=False)]


def test_503_without_targets_keeps_the_connection(engine: LoadBalancerEngine) -> None:
    port = serve(engine, tg("tg"))
    with Client(port) as client:
        client.send(get())
        assert normalized(client.response().raw) == error_page(503)
        client.send(post("/with-body", b"12345") + b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/again"))
        responses = client.responses([b"POST", b"HEAD", b"GET"])
        assert [normalized(r.raw) for r in responses] == [error_page(503), error_page(503, head=True), error_page(503)]
        client.send(get(extra=b"Connection: close\r\n") + get("/never"))
        assert normalized(client.response().raw) == error_page(503, keep=False)
        assert client.closed()


def test_504_when_the_target_is_slower_than_the_idle_timeout(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a), listeners=(forward_listener("tg", idle_timeout_s=1.0),))
    with Client(port) as client:
        started = time.monotonic()
        client.send(get("/slow?ms=4000"))
        response = client.response()
        elapsed = time.monotonic() - started
    assert normalized(response.raw) == error_page(504)
    assert 0.9 <= elapsed < 2.5
    assert engine.in_flight("tg", "a", a.port) == 0


@pytest.mark.parametrize(("path", "status"), [("/slow?ms=3000", 504), ("/slow-eof?ms=400", 502)])
def test_the_connection_is_still_usable_after_a_late_error(
    path: str, status: int, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    """The 504 (or a 502 after a slow target gave up) says ``Connection: keep-alive``: a client
    reusing the connection a moment later, well within the idle timeout, is served."""
    a = backends("a")
    port = serve(engine, tg("tg", a), listeners=(forward_listener("tg", idle_timeout_s=0.6),))
    with Client(port) as client:
        client.send(get(path))
        assert normalized(client.response().raw) == error_page(status)
        # The client's own think time (not a synchronisation): under half the idle timeout, but
        # enough that the idle timeout, counted from the request, has passed.
        time.sleep(0.25 if status == 504 else 0.35)
        client.send(get("/next"))
        assert client.response().body == b"a /next"


def test_a_response_cut_mid_body_cuts_the_client(
    engines: dict[str, LoadBalancerEngine], backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    received = {}
    for kind, lb in engines.items():
        port = serve(lb, tg("tg", a))
        for path in ("/cut", "/cut-chunked"):
            with Client(port) as client:
                client.send(get(path))
                received[kind, path] = normalized(client.rest_until_close())
            assert lb.in_flight("tg", "a", a.port) == 0
        assert fetch(port, get("/fine")).body == b"a /fine"
    for path in ("/cut", "/cut-chunked"):
        assert received["fast", path] == received["python", path]
    assert received["python", "/cut"] == b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nContent-Length: 100\r\n\r\n0123456789"
    assert received["python", "/cut-chunked"] == (
        b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n"
    )


# --------------------------------------------------------------------------- 6. large bodies, backpressure


@pytest.mark.parametrize("framing", ["length", "close"])
def test_a_5mib_response_read_slowly_arrives_intact(
    framing: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    size = 5 * 1024 * 1024
    with Client(port, rcvbuf=16384) as client:
        client.send(get(f"/big?size={size}&close={int(framing == 'close')}"))
        time.sleep(0.2)  # a slow reader: nothing read at first, so every buffer on the way fills
        deadline = time.monotonic() + TIMEOUT_S
        reads = 0
        while len(client.buf) < size:
            client._fill(deadline)
            assert not client.eof
            reads += 1
            if reads % 64 == 0:
                time.sleep(0.002)  # and then small reads, with pauses
        response = client.response()
        assert response.framing == ("length" if framing == "length" else "chunked")
        assert len(response.body) == size
        assert hashlib.sha256(response.body).digest() == hashlib.sha256(pattern(size)).digest()
        assert engine.in_flight("tg", "a", a.port) == 0
        client.send(get("/after"))
        assert client.response().body == b"a /after"


@pytest.mark.parametrize("size", [60 * 1024, 65536, 65537, 1024 * 1024])
def test_request_bodies_arrive_intact(
    size: int, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    body = pattern(size)[::-1]
    request = post("/echo", body)
    with Client(port) as client:
        head_end = request.index(b"\r\n\r\n") + 4
        client.send(request[:head_end])
        for i in range(head_end, len(request), 4096):  # the body in pieces, as it comes off a slow disk
            client.send(request[i : i + 4096])
        response = client.response()
        client.send(get("/after"))
        assert client.response().body == b"a /after"
    assert response.status == 200 and response.body == body
    received = a.requests("/echo")
    assert len(received) == 1 and received[0].body == body
    assert field_value(received[0].headers, b"content-length") == str(size).encode()
    if engine.fast_path:
        # up to 64 KiB the fast path forwards the body itself (and the follow-up); beyond, it hands
        # the connection off, and the follow-up goes with it
        assert served_by_fast_path(engine, key("tg", a)) == (2 if size <= 65536 else 0)


def absorbed_before_the_cut(port: int, size: int) -> int:
    """Bytes a client that reads nothing receives of a response that cannot complete (the
    idle timeout cuts it): what the kernel's buffers on the way hold."""
    with Client(port, rcvbuf=4096) as client:
        client.send(get(f"/big?size={size}"))
        time.sleep(0.6)  # the stalled client (the scenario, not a synchronisation): twice the idle timeout
        return len(client.rest_until_close())


MALFORMED_REQUESTS: Final[dict[str, bytes]] = {
    "bad-content-length": b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\n",
    "unsupported-transfer-coding": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
    "length-and-chunked": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    "http2-version": b"GET / HTTP/2.0\r\nHost: t\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n",
    "space-before-colon": b"GET / HTTP/1.1\r\nHost : t\r\n\r\n",
}


@pytest.mark.parametrize("case", list(MALFORMED_REQUESTS))
def test_malformed_requests_get_the_same_answer(
    case: str, engines: dict[str, LoadBalancerEngine], backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    answers = {}
    for kind, lb in engines.items():
        with Client(serve(lb, tg("tg", a))) as client:
            client.send(MALFORMED_REQUESTS[case])
            answers[kind] = normalized(client.rest_until_close())
    assert answers["fast"] == answers["python"]
    assert re.search(rb"HTTP/1\.1 (400|501|505) [^\r]*\r\n.*Connection: close\r\n\r\n<html>", answers["python"], re.S)
    assert a.requests() == []


def test_a_malformed_request_pipelined_after_a_plain_one(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    """The plain request is forwarded and answered; then the malformed one gets its 400 and the
    connection closes. (The fast path answers the first itself and hands the connection over
    before the second; the Python engine parses both.)"""
    a = backends("a")
    port = serve(engine, tg("tg", a))
    with Client(port) as client:
        client.send(get("/first") + b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n")
        data = normalized(client.rest_until_close())
    assert [r.path for r in a.requests()] == ["/first"]
    assert data == b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nContent-Length: 8\r\n\r\na /first" + error_response(
        400, b"<date>", keep_alive=False
    )


# --------------------------------------------------------------------------- 7. disconnects and counters


def test_a_client_leaving_mid_response_does_not_disturb_the_next(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    for leave in (Client.close, Client.abort):
        with Client(port, rcvbuf=16384) as client:
            client.send(get(f"/big?size={5 * 1024 * 1024}"))
            while len(client.buf) < 100_000:
                client._fill(time.monotonic() + TIMEOUT_S)
            leave(client)
        wait_until(lambda: engine.in_flight("tg", "a", a.port) == 0, what="the abandoned request to end")
        response = fetch(port, get("/next"))
        assert (response.status, response.body) == (200, b"a /next")
        assert engine.in_flight("tg", "a", a.port) == 0


def test_in_flight_counts_follow_requests_and_aborts(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    assert fetch(port, get("/quick")).status == 200
    assert engine.in_flight("tg", "a", a.port) == 0  # counted down before the answer's last byte
    with Client(port) as held:
        held.send(get("/hold"))
        wait_until(lambda: a.requests("/hold"), what="the request at the target")
        assert wait_until(lambda: engine.in_flight("tg", "a", a.port) == 1, what="one request in flight")
        a.release.set()
        assert held.response().body == b"a /hold"
        assert engine.in_flight("tg", "a", a.port) == 0
    with Client(port) as slow:
        slow.send(get("/slow?ms=5000"))
        wait_until(lambda: a.requests("/slow"), what="the slow request at the target")
        assert engine.in_flight("tg", "a", a.port) == 1
        started = time.monotonic()
        slow.abort()
    wait_until(lambda: engine.in_flight("tg", "a", a.port) == 0, timeout=3.0, what="the aborted request to end")
    assert time.monotonic() - started < 3.0


def test_request_counts_cover_both_paths(engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a, b))
    with Client(port) as client:
        for i in range(3):
            client.send(get(f"/plain{i}"))
            assert client.response().status == 200
    for i in range(2):
        assert fetch(port, chunked_post("/echo", b"x%d" % i), b"POST").status == 200
    assert fetch(port, post("/echo", b"y" * 100_000), b"POST").status == 200
    counts = engine.request_counts()
    assert counts[key("tg", a)] + counts[key("tg", b)] == 6
    assert len(a.requests()) + len(b.requests()) == 6
    if engine.fast_path:
        assert served_by_fast_path(engine, key("tg", a)) + served_by_fast_path(engine, key("tg", b)) == 3
    assert engine.in_flight("tg", "a", a.port) == engine.in_flight("tg", "b", b.port) == 0


# --------------------------------------------------------------------------- 8. stale pooled connections


@pytest.mark.parametrize("route", ["/stale", "/stale-reset", "/close-after"])
def test_a_stale_pooled_connection_is_retried_on_a_fresh_one(
    route: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    with Client(port) as client:
        client.send(get(route))
        assert client.response().body == b"a " + route.encode()
        client.send(post(route, b"z" * 60_000))  # replayed whole on the fresh connection
        second = client.response(b"POST")
        assert (second.status, second.body) == (200, b"a " + route.encode())
    assert a.connections == 2
    last = a.requests()[-1]
    assert (last.conn, last.index, last.body) == (2, 1, b"z" * 60_000)
    assert engine.request_counts()[key("tg", a)] == 2
    assert engine.in_flight("tg", "a", a.port) == 0
    if engine.fast_path:
        assert served_by_fast_path(engine, key("tg", a)) == 2


# --------------------------------------------------------------------------- 9. listener removal and stop


def test_removing_a_listener_closes_its_idle_connections_and_finishes_busy_ones(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    listeners = (forward_listener("tg", arn="main"), forward_listener("tg", arn="other"))
    port = serve(engine, tg("tg", a), listeners=listeners)
    with Client(port) as idle, Client(port) as handed_off, Client(port) as busy:
        idle.send(get("/idle"))
        assert idle.response().status == 200
        handed_off.send(chunked_post("/echo", b"chunked"))
        assert handed_off.response(b"POST").body == b"chunked"
        busy.send(get("/hold"))
        wait_until(lambda: a.requests("/hold"), what="the held request at the target")
        engine.apply(LbSnapshot(listeners=(listeners[1],), target_groups=(tg("tg", a),)))
        assert engine.bound_port("main") is None
        assert idle.closed(), "the idle keep-alive connection was not closed"
        assert handed_off.closed(), "the idle handed-off connection was not closed"
        a.release.set()
        assert busy.response().body == b"a /hold"
        assert busy.closed()
    with pytest.raises(ConnectionRefusedError):
        Client(port).close()
    other = engine.bound_port("other")
    assert other and fetch(other, get("/still")).body == b"a /still"


@pytest.mark.parametrize("kind", ENGINES)
def test_stop_leaves_no_socket_open(kind: str, backends: Callable[[str], RawBackend]) -> None:
    a = backends("a")
    before = open_sockets()
    others = lb_threads()
    lb = start_engine(kind)
    port = serve(lb, tg("tg", a))
    clients = [Client(port) for _ in range(3)]
    try:
        idle, handed_off, busy = clients
        idle.send(get("/idle"))
        assert idle.response().status == 200
        handed_off.send(chunked_post("/echo", b"chunked"))
        assert handed_off.response(b"POST").body == b"chunked"
        busy.send(get("/slow?ms=8000"))
        wait_until(lambda: a.requests("/slow"), what="the slow request at the target")
        lb.stop()
        for client in clients:
            assert client.closed(), "a client connection outlived the engine"
    finally:
        for client in clients:
            client.close()
    assert lb_threads() <= others
    with pytest.raises(ConnectionRefusedError):
        Client(port).close()
    wait_until(lambda: open_sockets() <= before, timeout=5, what="every socket closed")
