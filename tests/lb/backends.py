"""Tiny in-process backends for the engine tests (``http.server`` threads on 127.0.0.1).

Each answers with its ``name`` and reports what it saw in ``X-Seen-*`` headers:

``/health``          ``health_status`` (settable), or sleeps ``health_delay_s`` first
``/slow?s=0.5``      answers after that many seconds
``/chunked``         a chunked response in several pieces
``/echo``            echoes the request body (chunked request bodies decoded), chunked
``/close``           a body delimited by closing the connection
``/garbage``         bytes that are not HTTP, then close
``/reset``           closes without answering
anything else        200 with the name as body
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, body: bytes, *, chunked: bool = False) -> None:
        self.send_response(status)
        self.send_header("X-Backend", self.server.name)
        self.send_header("X-Conn", str(self.client_address[1]))
        for name in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Amzn-Trace-Id", "Transfer-Encoding"):
            self.send_header(f"X-Seen-{name}", self.headers.get(name, "-"))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 3):
                piece = body[i : i + 3]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        server = self.server
        body = self._read_body()
        if url.path == "/health":
            server.health_checks += 1
            if server.health_delay_s:
                time.sleep(server.health_delay_s)
            self._answer(server.health_status, b"health")
            return
        server.count(url.path)
        if url.path == "/slow":
            time.sleep(float(query.get("s", ["0.5"])[0]))
        if url.path == "/chunked":
            self._answer(200, b"chunk-" + server.name.encode() * 5, chunked=True)
        elif url.path == "/echo":
            self._answer(200, body, chunked=True)
        elif url.path == "/close":
            self.send_response(200)
            self.send_header("X-Backend", server.name)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until-close-" + server.name.encode())
            self.close_connection = True
        elif url.path == "/garbage":
            self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
            self.close_connection = True
        elif url.path == "/reset":
            self.close_connection = True
        else:
            self._answer(200, server.name.encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.name = name
        self.health_status = 200
        self.health_delay_s = 0.0
        self.health_checks = 0
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.connections: set[socket.socket] = set()

    def count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self._lock:
            self.connections.add(request)
        super().process_request(request, client_address)  # type: ignore[arg-type]

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class Backend:
    def __init__(self, name: str, tls: ssl.SSLContext | None = None) -> None:
        self.server = _Server(name)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.name = name
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def hits(self) -> Counter[str]:
        return self.server.hits

    def set_health(self, status: int) -> None:
        self.server.health_status = status

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self.server._lock:
            conns = list(self.server.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
