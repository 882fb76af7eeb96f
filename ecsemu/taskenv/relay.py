"""The tasks' endpoint sockets, relayed to the gateway.

Each task's socket listens on ``169.254.170.2:80`` inside the task's network namespace (made by
``ecsemu.runtime.netns``); this module accepts on all of them in one asyncio loop (its own
thread) and relays every connection, bytes as they are, to the gateway on ``127.0.0.1``. So a
container's AWS SDK, its metadata reads and its credential provider all reach ecsemu, and
ecsemu's HTTP server stays the one that parses HTTP.

Invariants:
- The relay connects only to the gateway's loopback address; it never connects into a task.
- At most ``MAX_CONNECTIONS_PER_TASK`` connections of one task are open at once: one beyond
  is closed as soon as it is accepted, so no task can hold more of ecsemu's file descriptors;
  an idle connection is closed after ``IDLE_TIMEOUT_S``.
- ``withdraw`` closes the task's socket and its open connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from typing import Final

log = logging.getLogger(__name__)

MAX_CONNECTIONS_PER_TASK: Final = 64
IDLE_TIMEOUT_S: Final = 300.0
CHUNK: Final = 64 * 1024


class EndpointRelay:
    def __init__(self, gateway_port: int, host: str = "127.0.0.1") -> None:
        self.gateway = (host, gateway_port)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None  # made when the first task is served
        self._thread: threading.Thread | None = None
        self._servers: dict[str, asyncio.base_events.Server] = {}
        self._tasks: dict[str, set[asyncio.Task[None]]] = {}

    def start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="ecsemu-task-endpoints", daemon=True)
                self._thread.start()
            return self._loop

    def serve(self, task_arn: str, listener: socket.socket) -> None:
        """Accept on ``listener`` (replacing the task's previous socket, if any)."""
        loop = self.start()
        asyncio.run_coroutine_threadsafe(self._serve(task_arn, listener), loop).result(timeout=10)

    def withdraw(self, task_arn: str) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._withdraw(task_arn), loop).result(timeout=10)

    def serving(self) -> list[str]:
        return list(self._servers)

    def stop(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()

    async def _serve(self, task_arn: str, listener: socket.socket) -> None:
        await self._withdraw(task_arn)
        tasks: set[asyncio.Task[None]] = set()
        self._tasks[task_arn] = tasks

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            current = asyncio.current_task()
            if len(tasks) >= MAX_CONNECTIONS_PER_TASK:
                writer.close()  # the task holds as many as it may
                return
            if current is not None:
                tasks.add(current)
            try:
                await self._relay(reader, writer)
            except asyncio.CancelledError:
                pass  # withdrawn: the task is gone (ending cancelled would log an error)
            finally:
                writer.close()
                if current is not None:
                    tasks.discard(current)

        self._servers[task_arn] = await asyncio.start_server(accepted, sock=listener)

    async def _withdraw(self, task_arn: str) -> None:
        server = self._servers.pop(task_arn, None)
        if server is not None:
            server.close()
        pending = list(self._tasks.pop(task_arn, set()))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _close_all(self) -> None:
        for task_arn in list(self._servers):
            await self._withdraw(task_arn)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.gateway)
        except OSError as error:
            log.warning("a task's endpoint request could not reach the gateway: %s", error)
            writer.close()
            return
        try:
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
        finally:
            for stream in (writer, upstream_writer):
                stream.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await asyncio.wait_for(source.read(CHUNK), IDLE_TIMEOUT_S)
                if not data:
                    break
                sink.write(data)
                await sink.drain()
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if sink.can_write_eof():
                    sink.write_eof()
