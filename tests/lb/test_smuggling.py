"""Request smuggling: every probe of ``smuggling_probes`` answered as nginx answers it, and a
bounded fuzz of the parser boundary.

The target is a raw socket on 127.0.0.1 that records every byte it receives and frames the
requests itself (a reader independent of llhttp). A refused probe gets nginx's status with
``Connection: close`` and the target receives no byte; a forwarded probe reaches the target
as exactly one request with the framing the load balancer parsed, and nothing after it.

The fuzz test sends random and mutated requests (``ECSEMU_FUZZ_EXAMPLES`` raises the count
from the CI default, for runs by hand) and checks that the engine never crashes, answers each
input with a 4xx/5xx of its own or forwards it, and that what the target receives is exactly
the requests ``http1.RequestParser`` read from the input, body for body.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecsemu.lb import LbSnapshot, LoadBalancerEngine, TargetGroupSpec, TargetSpec
from ecsemu.lb.http1 import NEED_DATA, PAUSED, Data, EndOfMessage, HttpError, RequestHead, RequestParser

from .probes import accepted, wait_until
from .proxy_backends import LOCALHOST, NO_CHECKS, TIMEOUT_S
from .proxy_support import Client, forward_listener
from .smuggling_probes import FORWARDED, REFUSED, STRICTER_THAN_NGINX

FUZZ_EXAMPLES: Final = int(os.environ.get("ECSEMU_FUZZ_EXAMPLES", "150"))
REFUSAL_STATUSES: Final = frozenset({400, 405, 414, 501, 505})
OK: Final = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


# --------------------------------------------------------------------------- the recording target


@dataclass
class Seen:
    """One request as the target framed it."""

    method: bytes
    target: bytes
    fields: list[tuple[bytes, bytes]]
    body: bytes
    framing: str

    def get(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.fields if n.lower() == name]


class Unframed(Exception):
    pass


@dataclass
class TargetConn:
    raw: bytearray = field(default_factory=bytearray)
    requests: list[Seen] = field(default_factory=list)
    error: str | None = None


def frame(buf: bytes) -> tuple[Seen, int] | None:
    """The first request in ``buf`` (strict CRLF framing), or None when incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].split(b"\r\n")
    method, target, version = lines[0].split(b" ")
    if version != b"HTTP/1.1":
        raise Unframed(f"forwarded as {version!r}")
    fields = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b"\n" in line or b"\r" in line:
            raise Unframed(f"bad field line {line!r}")
        fields.append((name, value.strip()))
    names = [n.lower() for n, _ in fields]
    pos = end + 4
    if names.count(b"content-length") + names.count(b"transfer-encoding") > 1:
        raise Unframed(f"ambiguous framing {fields!r}")
    if b"transfer-encoding" in names:
        if dict(zip(names, (v for _, v in fields), strict=True))[b"transfer-encoding"] != b"chunked":
            raise Unframed("transfer coding other than chunked")
        body = bytearray()
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(buf[pos:line_end].split(b";")[0], 16)
            pos = line_end + 2
            if size == 0:
                trailers_end = buf.find(b"\r\n\r\n", pos - 2)
                if trailers_end < 0:
                    return None
                return Seen(method, target, fields, bytes(body), "chunked"), trailers_end + 4
            if len(buf) < pos + size + 2:
                return None
            body += buf[pos : pos + size]
            if buf[pos + size : pos + size + 2] != b"\r\n":
                raise Unframed("chunk not ended by CRLF")
            pos += size + 2
    if b"content-length" in names:
        length = int(fields[names.index(b"content-length")][1])
        if len(buf) < pos + length:
            return None
        return Seen(method, target, fields, buf[pos : pos + length], "length"), pos + length
    return Seen(method, target, fields, b"", "none"), pos


class RecordingTarget:
    """Records every byte; answers each request it frames with 200 "ok"."""

    def __init__(self) -> None:
        self.conns: list[TargetConn] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server((LOCALHOST, 0))
        self._listener.settimeout(0.02)
        self.port = int(self._listener.getsockname()[1])
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        for sock in accepted(self._listener, self._stop):
            conn = TargetConn()
            with self._lock:
                self.conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(sock, conn), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, conn: TargetConn) -> None:
        sock.settimeout(0.05)
        pos = 0
        with sock:
            while not self._stop.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    conn.raw += data
                try:
                    while (found := frame(bytes(conn.raw[pos:]))) is not None:
                        seen, used = found
                        pos += used
                        with self._lock:
                            conn.requests.append(seen)
                        sock.sendall(OK[: OK.index(b"\r\n\r\n") + 4] if seen.method == b"HEAD" else OK)
                except (Unframed, ValueError) as error:
                    with self._lock:
                        conn.error = repr(error)
                    return

    def received_bytes(self) -> int:
        with self._lock:
            return sum(len(c.raw) for c in self.conns)

    def requests(self) -> list[Seen]:
        with self._lock:
            return [r for c in self.conns for r in c.requests]

    def errors(self) -> list[str]:
        with self._lock:
            return [c.error for c in self.conns if c.error is not None]

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def target() -> Iterator[RecordingTarget]:
    recorder = RecordingTarget()
    yield recorder
    recorder.stop()


def listen(engine: LoadBalancerEngine, target: RecordingTarget) -> int:
    group = TargetGroupSpec(arn="tg", health=NO_CHECKS, targets=(TargetSpec(id="t", port=target.port),))
    engine.apply(LbSnapshot(listeners=(forward_listener("tg"),), target_groups=(group,)))
    port = engine.bound_port("listener")
    assert port
    return port


def exchange(port: int, raw: bytes) -> bytes:
    """Sends ``raw``, half-closes, and returns everything the load balancer answered."""
    with Client(port) as client:
        with contextlib.suppress(OSError):  # refused early: the engine may close before all is sent
            client.send(raw)
            client.sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(AssertionError):
            return client.rest_until_close(timeout=TIMEOUT_S)
        return client.buf


def statuses(answer: bytes) -> list[int]:
    """The status of each response (bodies here are "ok" or an error page: no status line inside)."""
    return [int(found) for found in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]


# --------------------------------------------------------------------------- the probes


@pytest.mark.parametrize("case", [*REFUSED, *STRICTER_THAN_NGINX])
def test_a_malformed_request_gets_nginxs_answer_and_never_reaches_the_target(
    case: str, engine: LoadBalancerEngine, target: RecordingTarget
) -> None:
    raw, status = REFUSED[case] if case in REFUSED else STRICTER_THAN_NGINX[case][:2]
    answer = exchange(listen(engine, target), raw)
    assert statuses(answer) == [status], answer[:300]
    assert b"\r\nConnection: close\r\n" in answer and b"\r\nServer: awselb/2.0\r\n" in answer
    assert target.received_bytes() == 0
    assert target.conns == []


@pytest.mark.parametrize("case", list(FORWARDED))
def test_a_request_nginx_forwards_reaches_the_target_once_with_its_framing(
    case: str, engine: LoadBalancerEngine, target: RecordingTarget
) -> None:
    raw, expected = FORWARDED[case]
    answer = exchange(listen(engine, target), raw)
    assert statuses(answer) == [200], answer[:300]
    [seen] = target.requests()
    assert target.errors() == []
    assert (seen.method, seen.target, seen.body, seen.framing) == (
        expected.method, expected.target, expected.body, expected.framing
    )
    assert seen.get(b"host") == ([expected.host] if expected.host is not None else [])
    assert seen.get(b"x-forwarded-for") == [b"127.0.0.1"]
    if expected.framing == "length":
        assert seen.get(b"content-length") == [b"%d" % len(expected.body)]
    # Nothing after the one request: the body was never read as a request of its own.
    assert sum(len(c.raw) for c in target.conns) == len(target.conns[0].raw)
    assert target.conns[0].raw.endswith(expected.body if expected.framing == "length" else b"\r\n\r\n")


def test_connection_naming_content_length_keeps_the_body_out_of_the_rules(
    engine: LoadBalancerEngine, target: RecordingTarget
) -> None:
    """Issue 11's first probe, pipelined: the body is never answered as a request."""
    raw, _ = FORWARDED["connection-names-content-length"]
    answer = exchange(listen(engine, target), raw + raw)
    assert statuses(answer) == [200, 200]
    assert [r.target for r in target.requests()] == [b"/", b"/"]


# --------------------------------------------------------------------------- the fuzz


BASE_REQUESTS: Final = [
    b"GET /a?b=c HTTP/1.1\r\nHost: h\r\nUser-Agent: fuzz\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
    b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Content-Length\r\n\r\n",
]
INTERESTING: Final = [b"\r", b"\n", b"\r\n", b"\x00", b"\x0b", b" ", b"\t", b":", b",", b"\x7f", b"\xff", b"0",
                      b"-", b"/", b"Transfer-Encoding: chunked\r\n", b"Content-Length: 3\r\n", b"Host: x\r\n",
                      b"Connection: close\r\n", b"0\r\n\r\n", b"GET / HTTP/1.1\r\n"]


@st.composite
def fuzzed_inputs(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(min_size=1, max_size=200))
    count = draw(st.integers(1, 3))
    raw = bytearray(b"".join(draw(st.sampled_from(BASE_REQUESTS)) for _ in range(count)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(raw)))
        kind = draw(st.integers(0, 2))
        if kind == 0:
            raw[at:at] = draw(st.sampled_from(INTERESTING))
        elif kind == 1 and raw:
            del raw[min(at, len(raw) - 1)]
        else:
            raw[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(raw)


@dataclass
class Parsed:
    """What ``RequestParser`` read from an input: the requests, then whether it refused."""

    requests: list[tuple[bytes, bytes, bytes]]
    refused: int | None


def parse_all(raw: bytes) -> Parsed:
    parser = RequestParser()
    parser.feed(raw)
    parser.feed_eof()
    requests: list[tuple[bytes, bytes, bytes]] = []
    head: RequestHead | None = None
    body = bytearray()
    while True:
        try:
            event = parser.next_event()
        except HttpError as error:
            return Parsed(requests, error.status)
        if isinstance(event, RequestHead):
            head, body = event, bytearray()
        elif isinstance(event, Data):
            body += event.data
        elif isinstance(event, EndOfMessage):
            assert head is not None
            requests.append((head.method, head.target, bytes(body)))
            if not head.keep_alive:
                return Parsed(requests, None)
        elif event is PAUSED:
            parser.start_next_request()
        else:
            assert event is not NEED_DATA
            return Parsed(requests, None)


def test_fuzzing_the_parser_boundary(engine: LoadBalancerEngine, target: RecordingTarget) -> None:
    port = listen(engine, target)

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(fuzzed_inputs())
    def one_input(raw: bytes) -> None:
        before = len(target.requests())
        expected = parse_all(raw)
        answer = exchange(port, raw)
        wait_until(lambda: len(target.requests()) >= before + len(expected.requests), timeout=5,
                   what="the forwarded requests at the target")
        forwarded = [(s.method, s.target, s.body) for s in target.requests()[before:]]
        # Exactly what the parser read, nothing more: no request hidden in a body or a field.
        assert forwarded == expected.requests, raw
        assert target.errors() == []
        got = statuses(answer)
        assert got[: len(forwarded)] == [200] * len(forwarded), (raw, answer[:400])
        rest = got[len(forwarded) :]
        assert rest == ([expected.refused] if expected.refused is not None else []), (raw, answer[:400])
        assert all(status in REFUSAL_STATUSES for status in rest)

    one_input()
    # The engine is still up and serving.
    answer = exchange(port, b"GET /still HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert statuses(answer) == [200]
