"""Keep-alive connections to targets: one bounded idle pool per target address.

Vocabulary
----------
upstream connection
    One TCP (or TLS) connection from the proxy to a target, carrying one request at a time.
    While it carries one, its ``user`` (the proxy's exchange) receives its events.
idle pool
    Per target address ``(host, port, tls)``, the connections that finished a response and may
    carry the next request: most recently used first (warmest), at most
    ``UPSTREAM_MAX_IDLE_PER_TARGET`` of them; a connection idle longer than
    ``UPSTREAM_IDLE_TIMEOUT_S`` is closed rather than reused, because targets close idle
    connections themselves (a reused connection the target has just closed is retried once by
    the proxy, as nginx does).

Invariants
----------
* A connection is either idle in the pool, or owned by exactly one exchange, or closed.
* Everything runs on the engine's event loop; nothing here blocks.
* A simulated target (host ``NO_ADDRESS``) is never dialled: ``connect`` refuses it at once,
  as a target nobody listens on would be refused (the proxy answers 502).
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from typing import Final, Protocol, cast

from ecsemu.lb.http1 import ResponseParser
from ecsemu.lb.model import NO_ADDRESS

UPSTREAM_MAX_IDLE_PER_TARGET: Final = 256
UPSTREAM_IDLE_TIMEOUT_S: Final = 4.0
UPSTREAM_CONNECT_TIMEOUT_S: Final = 10.0
"""An ALB gives up connecting to a target after 10 s (and answers 504)."""
IDLE_SWEEP_INTERVAL_S: Final = 2.0

Address = tuple[str, int, bool]
"""``(host, port, tls)``."""


class UpstreamUser(Protocol):
    """What an upstream connection reports to the exchange that owns it."""

    def upstream_data(self, conn: UpstreamConnection, data: bytes) -> None: ...
    def upstream_eof(self, conn: UpstreamConnection) -> None: ...
    def upstream_lost(self, conn: UpstreamConnection, exc: Exception | None) -> None: ...
    def upstream_pause_writing(self) -> None: ...
    def upstream_resume_writing(self) -> None: ...


class UpstreamConnection(asyncio.Protocol):
    __slots__ = ("address", "closed", "idle_since", "parser", "pool", "transport", "user")

    def __init__(self, pool: UpstreamPool, address: Address) -> None:
        self.pool = pool
        self.address = address
        self.parser = ResponseParser()
        self.user: UpstreamUser | None = None
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self.closed = False

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but quack the same.
        self.transport = cast(asyncio.Transport, transport)
        self.pool.opened(self)

    def data_received(self, data: bytes) -> None:
        user = self.user
        if user is None:
            # Bytes nobody asked for on an idle connection: it can no longer be trusted.
            self.close()
            return
        user.upstream_data(self, data)

    def eof_received(self) -> bool:
        if self.user is not None:
            self.user.upstream_eof(self)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.lost(self)
        user, self.user = self.user, None
        if user is not None:
            user.upstream_lost(self, exc)

    def pause_writing(self) -> None:
        if self.user is not None:
            self.user.upstream_pause_writing()

    def resume_writing(self) -> None:
        if self.user is not None:
            self.user.upstream_resume_writing()

    # our own
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        self.user = None
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()


def _client_tls_context() -> ssl.SSLContext:
    # An ALB does not verify its targets' certificates; neither do we.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class UpstreamPool:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        max_idle_per_target: int = UPSTREAM_MAX_IDLE_PER_TARGET,
        idle_timeout_s: float = UPSTREAM_IDLE_TIMEOUT_S,
        connect_timeout_s: float = UPSTREAM_CONNECT_TIMEOUT_S,
    ) -> None:
        self.loop = loop
        self.max_idle_per_target = max_idle_per_target
        self.idle_timeout_s = idle_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._idle: dict[Address, list[UpstreamConnection]] = {}
        self._open: set[UpstreamConnection] = set()
        self._tls: ssl.SSLContext | None = None
        self._sweeper: asyncio.TimerHandle | None = loop.call_later(IDLE_SWEEP_INTERVAL_S, self._sweep)

    def acquire(self, address: Address) -> UpstreamConnection | None:
        """An idle connection to ``address`` still fit for reuse, or None."""
        conns = self._idle.get(address)
        if not conns:
            return None
        oldest_allowed = self.loop.time() - self.idle_timeout_s
        while conns:
            conn = conns.pop()
            if conn.closed:
                continue
            if conn.idle_since < oldest_allowed:
                conn.close()
                continue
            return conn
        return None

    async def connect(self, address: Address) -> UpstreamConnection:
        """A new connection (raises OSError when refused, TimeoutError past the connect timeout)."""
        host, port, tls = address
        if host == NO_ADDRESS:
            raise ConnectionRefusedError(errno.ECONNREFUSED, f"simulated target (port {port}): nothing to connect to")
        if tls and self._tls is None:
            self._tls = _client_tls_context()
        async with asyncio.timeout(self.connect_timeout_s):
            _, protocol = await self.loop.create_connection(
                lambda: UpstreamConnection(self, address), host, port, ssl=self._tls if tls else None
            )
        return protocol

    def release(self, conn: UpstreamConnection) -> None:
        """A connection whose response is complete: keep it idle for the next request."""
        conn.user = None
        if conn.closed:
            return
        conns = self._idle.setdefault(conn.address, [])
        if len(conns) >= self.max_idle_per_target:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        conns.append(conn)

    def opened(self, conn: UpstreamConnection) -> None:
        self._open.add(conn)

    def lost(self, conn: UpstreamConnection) -> None:
        self._open.discard(conn)
        conns = self._idle.get(conn.address)
        if conns and conn in conns:
            conns.remove(conn)

    def close_idle(self, address: Address) -> None:
        for conn in self._idle.pop(address, []):
            conn.close()

    def idle_count(self, address: Address) -> int:
        return len(self._idle.get(address, ()))

    def close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._idle.clear()
        for conn in list(self._open):
            conn.close()
        self._open.clear()

    def _sweep(self) -> None:
        oldest_allowed = self.loop.time() - self.idle_timeout_s
        for conns in self._idle.values():
            stale = [c for c in conns if c.idle_since < oldest_allowed]
            for conn in stale:
                conns.remove(conn)
                conn.close()
        self._sweeper = self.loop.call_later(IDLE_SWEEP_INTERVAL_S, self._sweep)
