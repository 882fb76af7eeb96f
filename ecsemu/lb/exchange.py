"""One forwarded request and its response (see ``http_proxy`` for the vocabulary).

An exchange owns, in turn: the request head rewritten for the target, the request body
buffered until an upstream connection is attached (``REQUEST_BUFFER_LIMIT``), a replay copy of
small requests (``REPLAY_LIMIT``) for the one retry on a fresh connection, and then the
response, passed to its client connection as it arrives. Its endings:

* complete: the upstream connection returns to the idle pool when both messages ended cleanly;
* ``_fail(status)``: nothing was sent to the client yet, so the load balancer answers itself
  (502 refused/reset/garbage, 504 timeout);
* ``_cut()``: the response had begun, so the client connection is cut;
* ``abort()``: the client went away.

Requests in flight are counted down before the last byte is handed to the client, so a
control plane that has seen the answer never sees the request still in flight.

Traffic counters: the final response head from the target counts its status class and its
TargetResponseTime (``sent_at``, when the request was written to the upstream connection —
again on a retry — to the ``last_activity`` of the read that brought the head; no extra clock
read); ``_fail`` counts the load balancer's own 502/504; bytes from the target count as
processed. Each in the target group's ``Traffic`` and its load balancer's.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from typing import TYPE_CHECKING, Final

from ecsemu.lb.forwarding import (
    client_body_framing,
    client_response_head,
    interim_response_head,
    new_trace_id,
    upstream_request_head,
)
from ecsemu.lb.http1 import (
    Data,
    EndOfMessage,
    Framing,
    Header,
    HttpError,
    RequestHead,
    ResponseHead,
    chunk,
    last_chunk,
)
from ecsemu.lb.model import TargetKey
from ecsemu.lb.pool import Address, UpstreamConnection
from ecsemu.lb.responses import error_response, http_date
from ecsemu.lb.traffic import Traffic

if TYPE_CHECKING:
    from ecsemu.lb.http_proxy import ClientConnection

log = logging.getLogger("ecsemu.lb")

REQUEST_BUFFER_LIMIT: Final = 256 * 1024
REPLAY_LIMIT: Final = 64 * 1024

_date_cache: list[object] = [0, b""]


def current_date() -> bytes:
    """The ``Date`` header's value, formatted once per second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = http_date(now)
    date = _date_cache[1]
    assert isinstance(date, bytes)
    return date


class Exchange:
    """One forwarded request on its way to a target and back."""

    __slots__ = (
        "address",
        "chunked_request",
        "client",
        "client_framing",
        "connect_task",
        "finished",
        "got_bytes",
        "keep_client",
        "key",
        "last_activity",
        "lb_traffic",
        "pending",
        "pending_bytes",
        "replay",
        "replay_bytes",
        "request",
        "request_done",
        "response",
        "retried",
        "reused",
        "sent_at",
        "state",
        "traffic",
        "upstream",
    )

    def __init__(
        self,
        client: ClientConnection,
        request: RequestHead,
        key: TargetKey,
        address: Address,
        keep_client: bool,
        traffic: Traffic,
    ) -> None:
        self.client = client
        self.lb_traffic = client.listener.traffic
        self.traffic = traffic
        self.state = client.state
        self.request = request
        self.key = key
        self.address = address
        self.keep_client = keep_client
        head = upstream_request_head(
            request,
            client_ip=client.client_ip,
            scheme=b"http",
            listener_port=client.local_port,
            trace_id=new_trace_id(time.time(), random.getrandbits(96)),
        )
        self.pending: list[bytes] = [head]
        self.pending_bytes = len(head)
        self.replay: list[bytes] | None = [head]
        self.replay_bytes = len(head)
        self.chunked_request = request.framing is Framing.CHUNKED
        self.request_done = False
        self.upstream: UpstreamConnection | None = None
        self.connect_task: asyncio.Task[None] | None = None
        self.response: ResponseHead | None = None
        self.client_framing = Framing.NONE
        self.got_bytes = False
        self.reused = False
        self.retried = False
        self.finished = False
        self.last_activity = client.last_activity
        self.sent_at = self.last_activity

    # ------------------------------------------------------------------ upstream side

    def start(self) -> None:
        conn = self.state.pool.acquire(self.address)
        if conn is not None:
            self.reused = True
            self._attach(conn, self.last_activity)
        else:
            self.connect_task = self.state.spawn(self._connect())

    async def _connect(self) -> None:
        try:
            conn = await self.state.pool.connect(self.address)
        except TimeoutError:
            self.connect_task = None
            self._fail(504)
            return
        except (OSError, ssl.SSLError):
            self.connect_task = None
            self._fail(502)
            return
        except Exception:
            log.exception("connecting to target %s failed", self.address)
            self.connect_task = None
            self._fail(502)
            return
        self.connect_task = None
        if self.finished:
            self.state.pool.release(conn)
            return
        self.reused = False
        self._attach(conn, self.client.loop.time())

    def _attach(self, conn: UpstreamConnection, now: float) -> None:
        self.upstream = conn
        conn.user = self
        conn.parser.expect_response(self.request.method)
        self.last_activity = now
        self.sent_at = now
        pending = self.pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self.pending = []
        self.pending_bytes = 0
        conn.write(data)
        if self.client.write_paused:
            conn.pause_reading()
        if self.client.paused_by:
            self.client.resume_reading("buffer")

    def request_data(self, data: bytes) -> None:
        self._send(chunk(data) if self.chunked_request else data)

    def request_end(self, trailers: list[Header]) -> None:
        if self.chunked_request:
            self._send(last_chunk(trailers))
        self.request_done = True

    def _send(self, data: bytes) -> None:
        if self.replay is not None:
            self.replay_bytes += len(data)
            if self.replay_bytes > REPLAY_LIMIT:
                self.replay = None
            else:
                self.replay.append(data)
        if self.upstream is not None:
            self.upstream.write(data)
            return
        self.pending.append(data)
        self.pending_bytes += len(data)
        if self.pending_bytes > REQUEST_BUFFER_LIMIT:
            self.client.pause_reading("buffer")

    # UpstreamUser
    def upstream_data(self, conn: UpstreamConnection, data: bytes) -> None:
        self.last_activity = self.client.loop.time()
        self.got_bytes = True
        self.lb_traffic.processed_bytes += len(data)
        conn.parser.feed(data)
        self._pump_response(conn)

    def upstream_eof(self, conn: UpstreamConnection) -> None:
        conn.parser.feed_eof()
        self._pump_response(conn)

    def upstream_lost(self, conn: UpstreamConnection, exc: Exception | None) -> None:
        self.upstream = None
        if self.finished:
            return
        if self.response is None:
            if self.reused and not self.got_bytes and self.replay is not None and not self.retried:
                # The target closed an idle keep-alive connection as we reused it: once more, anew.
                self.retried = True
                self.reused = False
                self.pending = list(self.replay)
                self.pending_bytes = self.replay_bytes
                self.connect_task = self.state.spawn(self._connect())
                return
            self._fail(502)
            return
        self._cut()

    def upstream_pause_writing(self) -> None:
        self.client.pause_reading("upstream")

    def upstream_resume_writing(self) -> None:
        self.client.resume_reading("upstream")

    def _pump_response(self, conn: UpstreamConnection) -> None:
        parser = conn.parser
        client = self.client
        while not self.finished:
            try:
                event = parser.next_event()
            except HttpError:
                conn.close()
                self.upstream = None
                if self.response is None:
                    self._fail(502)
                else:
                    self._cut()
                break
            if isinstance(event, Data):
                client.send(chunk(event.data) if self.client_framing is Framing.CHUNKED else event.data)
            elif isinstance(event, ResponseHead):
                if event.status < 200:
                    client.send(interim_response_head(event))
                else:
                    self._response_head(event)
            else:
                if isinstance(event, EndOfMessage):
                    self._response_end(conn, event.trailers)
                break
        client.flush()

    def _response_head(self, response: ResponseHead) -> None:
        self.response = response
        seconds = self.last_activity - self.sent_at
        self.traffic.target_response(response.status, seconds)
        self.lb_traffic.target_response(response.status, seconds)
        http11 = self.request.http11
        framing = client_body_framing(response, http11)
        self.client_framing = framing
        keep = self.keep_client and framing is not Framing.UNTIL_CLOSE
        self.keep_client = keep
        self.client.send(client_response_head(response, framing=framing, client_http11=http11, keep_alive=keep))

    def _response_end(self, conn: UpstreamConnection, trailers: list[Header]) -> None:
        if self.client_framing is Framing.CHUNKED:
            self.client.send(last_chunk(trailers))
        response = self.response
        assert response is not None
        self.upstream = None
        # Bytes beyond the response (a HEAD answered with a body...) make the connection unusable.
        if response.keep_alive and self.request_done and not conn.closed and not conn.parser.buffered:
            self.state.pool.release(conn)
        else:
            conn.close()
        self._finish(self.keep_client and self.request_done)

    # ------------------------------------------------------------------ endings

    def _finish(self, keep: bool) -> None:
        if self.finished:
            return
        self.finished = True
        self.state.end(self.key)
        if self.client.exchange is self:
            self.client.exchange_done(keep)

    def _fail(self, status: int) -> None:
        """Answer the client with the load balancer's own error (nothing was sent yet)."""
        if self.finished:
            return
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None
        keep = self.keep_client and self.request_done
        head_only = self.request.method == b"HEAD"
        answer = error_response(status, current_date(), keep_alive=keep, head_only=head_only)
        self.traffic.elb_response(status)
        self.lb_traffic.elb_response(status)
        self.lb_traffic.processed_bytes += len(answer)
        self.client.send(answer)
        self._finish(keep)  # counts the request done, then flushes (in_flight drops before the client hears)
        self.client.flush()

    def _cut(self) -> None:
        """The response had begun and cannot be completed: the client connection is cut."""
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None
        if not self.finished:
            self.finished = True
            self.state.end(self.key)
        self.client.flush()
        self.client.abort()
        if self.client.exchange is self:
            self.client.exchange_done(False)

    def timeout(self) -> None:
        if self.response is None:
            self._fail(504)
        else:
            self._cut()

    def abort(self) -> None:
        """The client is gone (or sent garbage): drop everything of this exchange."""
        if self.connect_task is not None:
            self.connect_task.cancel()
            self.connect_task = None
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None
        if not self.finished:
            self.finished = True
            self.state.end(self.key)
