"""Health checks: one probe per target per interval, on the engine's event loop.

The probe is I/O and returns a :class:`~ecsemu.lb.health.CheckResult`; what the result means
for the target's state is decided by the pure ``ecsemu.lb.health`` module.

* HTTP/HTTPS: a new connection to the target's host on the check port (``traffic-port`` is
  the target's own port), ``GET <path>`` with ``User-Agent: ELB-HealthChecker/2.0`` and
  ``Connection: close``; the status is judged by the matcher. No answer within ``timeout_s``
  → ``Target.Timeout``; refused, reset or not HTTP → ``Target.FailedHealthChecks``. The
  answer is read as the proxy reads responses (``http1.ResponseParser``): lines may end in a
  bare LF, as many small servers write them.
* TCP: the connection opens within ``timeout_s``.
* Probes start every ``interval_s`` whatever their duration (each lasts at most the timeout),
  the first one as soon as the target is registered. Draining targets, targets of groups no
  listener uses, and groups with checks disabled are not probed.
* A simulated target (``not target.reachable``) is not dialled: its probe asks
  ``simulated_health`` (the simulated runtime's answer for its port) and passes on ``True``;
  ``False`` — or no answer at all: its task is gone — fails as a refused connection does
  (``Target.FailedHealthChecks``). The state machine is the same as for a real target.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Final

from ecsemu.lb.health import CheckResult, judge_status, parse_matcher
from ecsemu.lb.http1 import NEED_DATA, HttpError, ResponseHead, ResponseParser
from ecsemu.lb.model import HealthCheckSpec, TargetKey, TargetSpec

log = logging.getLogger("ecsemu.lb")

USER_AGENT: Final = b"ELB-HealthChecker/2.0"
READ_SIZE: Final = 16 * 1024


def check_port(target: TargetSpec, spec: HealthCheckSpec) -> int:
    return target.port if spec.port == "traffic-port" else int(spec.port)


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def probe(target: TargetSpec, spec: HealthCheckSpec) -> CheckResult:
    """One health check of ``target`` with ``spec``; never raises (but for cancellation)."""
    if not target.reachable:
        return CheckResult.failed()  # never dialled; the checker asks the simulated runtime
    port = check_port(target, spec)
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(spec.timeout_s):
            tls = _tls_context() if spec.protocol == "HTTPS" else None
            reader, writer = await asyncio.open_connection(target.host, port, ssl=tls)
            if spec.protocol == "TCP":
                return CheckResult.passed()
            writer.write(
                b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                % (spec.path.encode("latin-1"), target.host.encode("latin-1"), port, USER_AGENT)
            )
            parser = ResponseParser()
            parser.expect_response(b"GET")
            while True:
                event = parser.next_event()
                if isinstance(event, ResponseHead) and event.status >= 200:
                    return judge_status(event.status, parse_matcher(spec.matcher))
                if event is NEED_DATA:
                    data = await reader.read(READ_SIZE)
                    if not data:
                        parser.feed_eof()
                    else:
                        parser.feed(data)
                elif not isinstance(event, ResponseHead):
                    return CheckResult.failed()
    except TimeoutError:
        return CheckResult.timed_out()
    except (OSError, HttpError, ValueError, ssl.SSLError):
        return CheckResult.failed()
    finally:
        if writer is not None:
            writer.transport.abort()


SimulatedHealth = Callable[[int], bool | None]
"""The simulated runtime's answer for the target at 127.0.0.1:<port>; None: not one of its."""


def simulated_probe(target: TargetSpec, answer: SimulatedHealth | None) -> CheckResult:
    """One health check of a simulated target: the runtime's answer, no socket."""
    return CheckResult.passed() if answer is not None and answer(target.port) else CheckResult.failed()


class HealthChecker:
    """Runs one probing task per checked target; ``sync`` starts and stops them declaratively.

    ``simulated_health`` answers for the simulated targets (set by the engine, may be None).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_result: Callable[[TargetKey, CheckResult], None],
        simulated_health: SimulatedHealth | None = None,
    ) -> None:
        self.loop = loop
        self.on_result = on_result
        self.simulated_health = simulated_health
        self._tasks: dict[TargetKey, tuple[tuple[TargetSpec, HealthCheckSpec], asyncio.Task[None]]] = {}

    def sync(self, wanted: dict[TargetKey, tuple[TargetSpec, HealthCheckSpec]]) -> None:
        for key in list(self._tasks):
            signature, task = self._tasks[key]
            if wanted.get(key) != signature:
                task.cancel()
                del self._tasks[key]
        for key, signature in wanted.items():
            if key not in self._tasks:
                self._tasks[key] = (signature, self.loop.create_task(self._run(key, *signature)))

    async def _run(self, key: TargetKey, target: TargetSpec, spec: HealthCheckSpec) -> None:
        while True:
            started = self.loop.time()
            if target.reachable:
                result = await probe(target, spec)
            else:
                result = simulated_probe(target, self.simulated_health)
            try:
                self.on_result(key, result)
            except Exception:
                log.exception("recording the health of %s failed", key)
            await asyncio.sleep(max(0.0, started + spec.interval_s - self.loop.time()))

    async def stop(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
