"""The TCP listener: a layer-4 proxy copying bytes both ways.

Each accepted connection gets one target, chosen when it arrives (the listener's forward
action, then the group's routable targets, failing open as for HTTP); no target → the
connection is closed at once, a refused target → likewise. Reading from the client waits
until the target connection is open. Half-closes pass through (``write_eof``); the pair is
closed when both directions have ended, or when nothing moved for ``idle_timeout_s``.
Backpressure: a side whose write buffer passes ``WRITE_BUFFER_HIGH`` pauses the other's
reading. For a TCP target group, ``in_flight`` counts open connections and
``request_counts`` counts connections made. Traffic counters: a flow given a target counts
NewFlowCount, and the bytes read from either side count as ProcessedBytes, in its target
group's ``Traffic`` and its load balancer's (attribute adds on references the relay holds).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Final, cast

from ecsemu.lb.model import TargetKey
from ecsemu.lb.runtime import EngineState, ListenerRuntime
from ecsemu.lb.traffic import Traffic

WRITE_BUFFER_HIGH: Final = 256 * 1024
MIN_TIMER_S: Final = 0.005
NOT_COUNTED: Final = Traffic()
"""Where a flow without a target would count (it reads nothing: its reading stays paused)."""


class _Side(asyncio.Protocol):
    """One end of a proxied pair; ``peer`` is the other end."""

    __slots__ = ("early", "eof", "peer", "relay", "transport")

    def __init__(self, relay: TcpRelay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.eof = False
        self.early: list[bytes] = []
        """Bytes the client sent before the target connection opened (uvloop may deliver them
        although reading was paused in ``connection_made``); written first once it opens."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but quack the same.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)

    def data_received(self, data: bytes) -> None:
        relay = self.relay
        relay.last_activity = relay.loop.time()
        size = len(data)
        relay.traffic.processed_bytes += size
        relay.lb_traffic.processed_bytes += size
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
        elif peer is None and self.transport is not None:
            self.early.append(data)
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is not None and peer.transport is not None and peer.transport.can_write_eof():
            peer.transport.write_eof()
        if peer is not None and peer.eof:
            self.relay.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.relay.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class TcpRelay(_Side):
    """The client end; it owns the pair, the target choice and the idle timer."""

    __slots__ = ("_timer", "closed", "key", "last_activity", "lb_traffic", "listener", "loop", "state", "traffic", "upstream")

    def __init__(self, state: EngineState, listener: ListenerRuntime) -> None:
        super().__init__(self)
        self.state = state
        self.loop = state.loop
        self.listener = listener
        self.key: TargetKey | None = None
        self.upstream: _Side | None = None
        self.closed = False
        self.last_activity = self.loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self.lb_traffic = listener.traffic
        self.traffic = NOT_COUNTED
        """The target group's counters, once the flow has a target."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        self.listener.connections.add(self)
        forward = self.listener.default_forward()
        tg_arn = self.listener.pick_target_group(forward) if forward is not None else None
        group = self.state.target_groups.get(tg_arn) if tg_arn is not None else None
        choice = group.choose(self.state.in_flight) if group is not None else None
        if group is None or choice is None or self.listener.closed:
            self.close()
            return
        target, key = choice
        if not target.reachable:  # a simulated target: nothing listens there, never dial it
            self.close()
            return
        self.key = key
        self.state.begin(key)
        self.traffic = self.listener.traffic_of(key.tg_arn)
        self.traffic.new_flows += 1
        self.lb_traffic.new_flows += 1
        self._timer = self.loop.call_later(self.listener.spec.idle_timeout_s, self._on_timer)
        self.state.spawn(self._connect(target.host, target.port, group.tls))

    async def _connect(self, host: str, port: int, tls: bool) -> None:
        context: ssl.SSLContext | None = None
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            async with asyncio.timeout(self.state.pool.connect_timeout_s):
                _, upstream = await self.loop.create_connection(lambda: _Side(self), host, port, ssl=context)
        except (OSError, TimeoutError, ssl.SSLError):
            self.close()
            return
        if self.closed:
            if upstream.transport is not None:
                upstream.transport.abort()
            return
        self.upstream = upstream
        upstream.peer = self
        self.peer = upstream
        if self.early and upstream.transport is not None:
            upstream.transport.write(b"".join(self.early))
            self.early.clear()
        if self.eof and upstream.transport is not None and upstream.transport.can_write_eof():
            upstream.transport.write_eof()
        if self.transport is not None:
            self.transport.resume_reading()
            if upstream.early:  # a target that speaks first (a banner) before the pair was linked
                self.transport.write(b"".join(upstream.early))
                upstream.early.clear()
                if upstream.transport is not None:
                    upstream.transport.resume_reading()

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed:
            return
        deadline = self.last_activity + self.listener.spec.idle_timeout_s
        now = self.loop.time()
        if now >= deadline:
            self.close()
            return
        self._timer = self.loop.call_later(max(deadline - now, MIN_TIMER_S), self._on_timer)

    def close_when_idle(self) -> None:
        """TCP has no request boundary: a removed listener leaves open streams alone."""

    def abort(self) -> None:
        self.close(abort=True)

    def close(self, *, abort: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.listener.connections.discard(self)
        if self.key is not None:
            self.state.end(self.key)
        for side in (self, self.upstream):
            if side is not None and side.transport is not None:
                if abort:
                    side.transport.abort()
                else:
                    side.transport.close()
