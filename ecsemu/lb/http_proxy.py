"""The HTTP listener: an HTTP/1.1 reverse proxy on asyncio protocols.

Vocabulary
----------
client connection (:class:`ClientConnection`)
    One accepted connection; it parses requests (``http1.RequestParser``, llhttp), asks the pure rule and balancing functions what to do with each,
    and answers one request at a time (pipelined requests wait in the parser).
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

Traffic counters (``traffic``; meanings in ``ecsemu.model.lb_metrics``)
----------------------------------------------------------------------
Counted here: new connections, bytes from the client, and every answer of the load balancer's
own (the 503 of no target, fixed responses, redirects, refused requests), with RequestCount of
every routed request; the exchange counts what the target answers, its timing and its 502/504.
Each count is an attribute add on references the listener holds (see ``traffic``).
"""

from __future__ import annotations

import asyncio
from typing import Final, cast

from ecsemu.lb.exchange import Exchange, current_date
from ecsemu.lb.http1 import (
    CLOSED,
    PAUSED,
    Data,
    EndOfMessage,
    HttpError,
    RequestHead,
    RequestParser,
)
from ecsemu.lb.model import FixedResponse, Forward, Redirect
from ecsemu.lb.responses import error_response, fixed_response, redirect_location, redirect_response
from ecsemu.lb.rules import RequestFacts, host_name, match_rule
from ecsemu.lb.runtime import EngineState, ListenerRuntime

WRITE_BUFFER_HIGH: Final = 256 * 1024
CLIENT_PIPELINE_LIMIT: Final = 64 * 1024
MIN_TIMER_S: Final = 0.005

class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "_closing",
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
        "paused_by",
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
        self.paused_by: set[str] = set()
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but quack the same.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        peer = transport.get_extra_info("peername")
        if peer:
            self.client_ip = str(peer[0])
        local = transport.get_extra_info("sockname")
        if local:
            self.local_port = int(local[1])
        self.listener.connections.add(self)
        self.listener.traffic.new_connections += 1
        self.last_activity = self.loop.time()
        self._arm_timer(self.listener.spec.idle_timeout_s)
        if self.listener.closed:
            self._close()

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.loop.time()
        self.listener.traffic.processed_bytes += len(data)
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
        if not self.paused_by and self.transport is not None:
            self.transport.pause_reading()
        self.paused_by.add(why)

    def resume_reading(self, why: str) -> None:
        if why in self.paused_by:
            self.paused_by.discard(why)
            if not self.paused_by and self.transport is not None and not self._closing:
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
            if isinstance(event, RequestHead):
                self._on_request(event)
            elif isinstance(event, EndOfMessage):
                if self.exchange is not None:
                    self.exchange.request_end(event.trailers)
                else:
                    self._local_done()
            elif isinstance(event, Data):
                if self.exchange is not None:
                    self.exchange.request_data(event.data)
            else:
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
        # Answers to earlier pipelined requests still queued in ``out`` go first.
        response = error_response(status, current_date(), keep_alive=False)
        traffic = self.listener.traffic
        traffic.elb_response(status)
        traffic.processed_bytes += len(response)
        self.send(response)
        self._close()

    def _respond_locally(self, status: int, response: bytes, keep_alive: bool) -> None:
        """An answer of the load balancer's own; the request body (if any) is read and dropped."""
        traffic = self.listener.traffic
        traffic.request_count += 1
        traffic.elb_response(status)
        traffic.processed_bytes += len(response)
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
                self._respond_locally(503, error_response(503, current_date(), keep_alive=keep, head_only=head_only), keep)
                return
            target, key = choice
            listener.traffic.request_count += 1
            group_traffic = listener.traffic_of(key.tg_arn)
            group_traffic.request_count += 1
            exchange = Exchange(self, head, key, group.address(target), keep, group_traffic)
            self.exchange = exchange
            state.begin(key)
            exchange.start()
        elif isinstance(action, FixedResponse):
            response = fixed_response(action, current_date(), keep_alive=keep, head_only=head_only)
            self._respond_locally(action.status, response, keep)
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
            self._respond_locally(301 if action.status_code == "HTTP_301" else 302, response, keep)
        else:
            self._respond_locally(503, error_response(503, current_date(), keep_alive=keep, head_only=head_only), keep)

    def exchange_done(self, keep: bool) -> None:
        self.exchange = None
        if self.paused_by:
            self.resume_reading("buffer")
            self.resume_reading("upstream")
        if keep and not self.listener.closed and not self._closing:
            self.parser.start_next_request()
            self.last_activity = self.loop.time()
            if self.paused_by:
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
