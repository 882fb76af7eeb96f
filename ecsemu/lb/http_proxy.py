"""The HTTP listener: an HTTP/1.1 reverse proxy on asyncio protocols.

Vocabulary
----------
client connection (:class:`ClientConnection`)
    One accepted connection; it parses requests (``http1.RequestParser``), asks the pure
    rule and balancing functions what to do with each, and answers one request at a time
    (pipelined requests wait in the parser).
exchange (:class:`Exchange`)
    One forwarded request and its response: the target chosen, the upstream connection that
    carries it (from the idle pool, or newly opened), the request body on its way up and the
    response on its way down. The client connection owns at most one.

Backpressure and timeouts (named, explicit)
-------------------------------------------
* A client's write buffer above ``WRITE_BUFFER_HIGH`` pauses reading from its target; a
  target's above it pauses reading from the client.
* A request body waiting for its upstream connection is buffered up to
  ``REQUEST_BUFFER_LIMIT``, then the client is paused; a pipelined request waiting for its
  turn up to ``CLIENT_PIPELINE_LIMIT``.
* ``idle_timeout_s`` of the listener: a client connection with no request is closed after it;
  an exchange with no byte moving either way for that long is answered 504 (or cut, if the
  response had begun). One timer per client connection, re-armed lazily.
* A reused keep-alive connection that the target closed before answering is retried once on a
  new connection, when the request (head and body) fits ``REPLAY_LIMIT``.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from typing import Final

from ecsemu.lb.forwarding import (
    client_body_framing,
    client_response_head,
    interim_response_head,
    new_trace_id,
    upstream_request_head,
)
from ecsemu.lb.http1 import (
    CLOSED,
    PAUSED,
    Data,
    EndOfMessage,
    Framing,
    Header,
    HttpError,
    RequestHead,
    RequestParser,
    ResponseHead,
    chunk,
    last_chunk,
)
from ecsemu.lb.model import FixedResponse, Forward, Redirect, TargetKey
from ecsemu.lb.pool import Address, UpstreamConnection
from ecsemu.lb.responses import error_response, fixed_response, http_date, redirect_location, redirect_response
from ecsemu.lb.rules import RequestFacts, host_name, match_rule
from ecsemu.lb.runtime import EngineState, ListenerRuntime

WRITE_BUFFER_HIGH: Final = 256 * 1024
REQUEST_BUFFER_LIMIT: Final = 256 * 1024
CLIENT_PIPELINE_LIMIT: Final = 64 * 1024
REPLAY_LIMIT: Final = 64 * 1024
MIN_TIMER_S: Final = 0.005

_date_cache: list[object] = [0, b""]


def current_date() -> bytes:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = http_date(now)
    date = _date_cache[1]
    assert isinstance(date, bytes)
    return date


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "_closing",
        "_paused_by",
        "_timer",
        "client_ip",
        "exchange",
        "last_activity",
        "listener",
        "local_keep",
        "local_port",
        "loop",
        "out",
        "parser",
        "state",
        "transport",
        "write_paused",
    )

    def __init__(self, state: EngineState, listener: ListenerRuntime) -> None:
        self.state = state
        self.loop = state.loop
        self.listener = listener
        self.parser = RequestParser()
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.out: list[bytes] = []
        self.client_ip = "127.0.0.1"
        self.local_port = listener.bound_port
        self.last_activity = 0.0
        self.local_keep = False
        self.write_paused = False
        self._paused_by: set[str] = set()
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        peer = transport.get_extra_info("peername")
        if peer:
            self.client_ip = str(peer[0])
        local = transport.get_extra_info("sockname")
        if local:
            self.local_port = int(local[1])
        self.listener.connections.add(self)
        self.last_activity = self.loop.time()
        self._arm_timer(self.listener.spec.idle_timeout_s)
        if self.listener.closed:
            self._close()

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.loop.time()
        self.parser.feed(data)
        self._pump()

    def eof_received(self) -> bool:
        self.parser.feed_eof()
        self._pump()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.listener.connections.discard(self)
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.abort()

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.exchange is not None and self.exchange.upstream is not None:
            self.exchange.upstream.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.exchange is not None and self.exchange.upstream is not None:
            self.exchange.upstream.resume_reading()

    # ------------------------------------------------------------------ output

    def send(self, data: bytes) -> None:
        self.out.append(data)

    def flush(self) -> None:
        out = self.out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        if self.transport is not None:
            self.transport.write(data)

    def pause_reading(self, why: str) -> None:
        if not self._paused_by and self.transport is not None:
            self.transport.pause_reading()
        self._paused_by.add(why)

    def resume_reading(self, why: str) -> None:
        if why in self._paused_by:
            self._paused_by.discard(why)
            if not self._paused_by and self.transport is not None and not self._closing:
                self.transport.resume_reading()

    def _close(self) -> None:
        self._closing = True
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def close_when_idle(self) -> None:
        if self.exchange is None:
            self._close()

    def abort(self) -> None:
        self._closing = True
        self.out.clear()
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------ requests

    def _pump(self) -> None:
        parser = self.parser
        while not self._closing:
            try:
                event = parser.next_event()
            except HttpError as error:
                self._bad_request(error.status)
                break
            kind = type(event)
            if kind is Data:
                assert isinstance(event, Data)
                if self.exchange is not None:
                    self.exchange.request_data(event.data)
                continue
            if kind is RequestHead:
                assert isinstance(event, RequestHead)
                self._on_request(event)
                continue
            if kind is EndOfMessage:
                assert isinstance(event, EndOfMessage)
                if self.exchange is not None:
                    self.exchange.request_end(event.trailers)
                else:
                    self._local_done()
                continue
            if event is PAUSED:
                if parser.buffered > CLIENT_PIPELINE_LIMIT:
                    self.pause_reading("pipeline")
            elif event is CLOSED:
                self._close()
            break
        self.flush()

    def _bad_request(self, status: int) -> None:
        exchange, self.exchange = self.exchange, None
        answered = exchange is not None and exchange.response is not None
        if exchange is not None:
            exchange.abort()
        if answered:
            self.abort()
            return
        self.out.clear()
        self.send(error_response(status, current_date(), keep_alive=False))
        self._close()

    def _respond_locally(self, response: bytes, keep_alive: bool) -> None:
        """An answer of the load balancer's own; the request body (if any) is read and dropped."""
        self.send(response)
        self.local_keep = keep_alive

    def _local_done(self) -> None:
        if self.local_keep and not self.listener.closed:
            self.parser.start_next_request()
        else:
            self._close()

    def _facts(self, head: RequestHead) -> RequestFacts:
        host = head.get(b"host") or b""
        return RequestFacts.from_target(
            head.method.decode("latin-1"),
            head.target.decode("latin-1"),
            host=host.decode("latin-1"),
            headers=tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in head.headers),
            source_ip=self.client_ip,
        )

    def _on_request(self, head: RequestHead) -> None:
        listener = self.listener
        keep = head.keep_alive and not listener.closed
        head_only = head.method == b"HEAD"
        rules = listener.ordered_rules
        if not rules:
            rule = None
        elif listener.needs_facts:
            rule = match_rule(rules, self._facts(head))
        else:
            rule = rules[0]
        action = rule.action if rule is not None else None
        if isinstance(action, Forward):
            state = self.state
            tg_arn = listener.pick_target_group(action)
            group = state.target_groups.get(tg_arn) if tg_arn is not None else None
            choice = group.choose(state.in_flight) if group is not None else None
            if group is None or choice is None:
                self._respond_locally(error_response(503, current_date(), keep_alive=keep, head_only=head_only), keep)
                return
            target, key = choice
            exchange = Exchange(self, head, key, group.address(target), keep)
            self.exchange = exchange
            state.begin(key)
            exchange.start()
        elif isinstance(action, FixedResponse):
            self._respond_locally(fixed_response(action, current_date(), keep_alive=keep, head_only=head_only), keep)
        elif isinstance(action, Redirect):
            facts = self._facts(head)
            location = redirect_location(
                action,
                protocol="HTTP",
                host=host_name(facts.host),
                port=self.local_port,
                path=facts.path,
                query=facts.query,
            )
            response = redirect_response(action, location, current_date(), keep_alive=keep, head_only=head_only)
            self._respond_locally(response, keep)
        else:
            self._respond_locally(error_response(503, current_date(), keep_alive=keep, head_only=head_only), keep)

    def exchange_done(self, keep: bool) -> None:
        self.exchange = None
        self.resume_reading("buffer")
        self.resume_reading("upstream")
        if keep and not self.listener.closed and not self._closing:
            self.parser.start_next_request()
            self.last_activity = self.loop.time()
            self.resume_reading("pipeline")
            self._pump()
        else:
            self._close()

    # ------------------------------------------------------------------ idle timeout

    def _arm_timer(self, delay: float) -> None:
        self._timer = self.loop.call_later(max(delay, MIN_TIMER_S), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.transport is None or self._closing:
            return
        idle = self.listener.spec.idle_timeout_s
        now = self.loop.time()
        exchange = self.exchange
        if exchange is not None:
            deadline = max(exchange.last_activity, self.last_activity) + idle
            if now >= deadline:
                exchange.timeout()
                self.flush()
                if self.transport is None or self._closing:
                    return
                self._arm_timer(idle)
                return
        else:
            deadline = self.last_activity + idle
            if now >= deadline:
                self._close()
                return
        self._arm_timer(deadline - now)


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
        "pending",
        "pending_bytes",
        "replay",
        "replay_bytes",
        "request",
        "request_done",
        "response",
        "retried",
        "reused",
        "state",
        "upstream",
    )

    def __init__(
        self, client: ClientConnection, request: RequestHead, key: TargetKey, address: Address, keep_client: bool
    ) -> None:
        self.client = client
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
        self.last_activity = client.loop.time()

    # ------------------------------------------------------------------ upstream side

    def start(self) -> None:
        conn = self.state.pool.acquire(self.address)
        if conn is not None:
            self.reused = True
            self._attach(conn)
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
        self.connect_task = None
        if self.finished:
            self.state.pool.release(conn)
            return
        self.reused = False
        self._attach(conn)

    def _attach(self, conn: UpstreamConnection) -> None:
        self.upstream = conn
        conn.user = self
        conn.parser.expect_response(self.request.method)
        self.last_activity = self.client.loop.time()
        pending = self.pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self.pending = []
        self.pending_bytes = 0
        conn.write(data)
        if self.client.write_paused:
            conn.pause_reading()
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
            kind = type(event)
            if kind is Data:
                assert isinstance(event, Data)
                client.send(chunk(event.data) if self.client_framing is Framing.CHUNKED else event.data)
                continue
            if kind is ResponseHead:
                assert isinstance(event, ResponseHead)
                if event.status < 200:
                    client.send(interim_response_head(event))
                else:
                    self._response_head(event)
                continue
            if kind is EndOfMessage:
                assert isinstance(event, EndOfMessage)
                self._response_end(conn, event.trailers)
            break
        client.flush()

    def _response_head(self, response: ResponseHead) -> None:
        self.response = response
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
        self.client.send(error_response(status, current_date(), keep_alive=keep, head_only=head_only))
        self.client.flush()
        self._finish(keep)

    def _cut(self) -> None:
        """The response had begun and cannot be completed: the client connection is cut."""
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None
        self.client.flush()
        self.client.abort()
        self._finish(False)

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
