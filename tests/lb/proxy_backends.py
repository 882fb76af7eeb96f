"""Raw-socket backends for the proxy tests: each route answers one way (chunked,
close-delimited, interim, garbage, reset, slow...) and records what it received.
"""


from __future__ import annotations

import contextlib
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs

from ecsemu.lb import (
    HealthCheckSpec,
)

from .probes import accepted

Header = tuple[bytes, bytes]

LOCALHOST: Final = "127.0.0.1"
NO_CHECKS: Final = HealthCheckSpec(enabled=False)
TIMEOUT_S: Final = 10.0
TRACE_RE: Final = re.compile(rb"X-Amzn-Trace-Id: Root=1-([0-9a-f]{8})-[0-9a-f]{24}\r\n")
DATE_RE: Final = re.compile(rb"\r\nDate: [^\r\n]*")
LINGER_RESET: Final = struct.pack("ii", 1, 0)
"""SO_LINGER on, 0 s: close() sends a RST."""


# --------------------------------------------------------------------------- polling




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
        for sock in accepted(self._listener, self._stopping):
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


