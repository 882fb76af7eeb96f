"""The engine's loop-side half: applying snapshots, health results, notifications, shutdown.

Everything here runs on the engine's event loop thread (``ecsemu.lb.engine`` is the
thread-safe facade). ``apply`` is declarative and idempotent:

* target groups: kept ones keep their health records for targets still present (a target is
  identified by its key), new targets start ``initial``; idle pooled connections to addresses
  no longer registered anywhere are closed. In-flight requests are never touched: they hold
  their own upstream connection until their response completes.
* listeners: new ones bind; removed ones (or ones whose requested port or protocol changed)
  stop accepting, close their idle connections and let busy ones finish; kept ones get their
  new rules for the next request.
* health checks: one probe loop per registered target of a group in use with checks enabled.
* traffic counters: the pairs whose load balancer (the listeners' ``traffic_key``) or target
  group left the snapshot are forgotten first; every listener then re-fetches its references.
* health: recomputed; every key whose reported health changed (or appeared) is announced to
  the subscribers, with the key only (level-triggered: readers call ``target_health``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ecsemu.lb.health import CheckResult
from ecsemu.lb.healthcheck import HealthChecker
from ecsemu.lb.http_proxy import ClientConnection
from ecsemu.lb.listeners import open_listening_socket
from ecsemu.lb.model import Forward, HealthCheckSpec, LbSnapshot, ListenerSpec, TargetKey, TargetSpec
from ecsemu.lb.pool import Address, UpstreamPool
from ecsemu.lb.runtime import EngineState, ListenerRuntime, TargetGroupRuntime
from ecsemu.lb.tcp_proxy import TcpRelay

log = logging.getLogger("ecsemu.lb")

HealthListener = Callable[[TargetKey], None]


def used_target_groups(snapshot: LbSnapshot) -> set[str]:
    return {
        arn
        for listener in snapshot.listeners
        for rule in listener.rules
        if isinstance(rule.action, Forward)
        for arn, _ in rule.action.weights
    }


class EngineCore:
    def __init__(self, loop: asyncio.AbstractEventLoop, *, port_offset: int = 0) -> None:
        self.loop = loop
        self.port_offset = port_offset
        self.pool = UpstreamPool(loop)
        self.state = EngineState(loop, self.pool)
        self.checker = HealthChecker(loop, self._on_check_result)
        self.subscribers: tuple[HealthListener, ...] = ()
        self.bound_ports: dict[str, int] = {}

    # ------------------------------------------------------------------ apply

    async def apply(self, snapshot: LbSnapshot) -> None:
        state = self.state
        used = used_target_groups(snapshot)
        state.traffic.prune({spec.traffic_key for spec in snapshot.listeners}, {tg.arn for tg in snapshot.target_groups})
        old_addresses = self._addresses()
        groups: dict[str, TargetGroupRuntime] = {}
        for tg_spec in snapshot.target_groups:
            group = state.target_groups.get(tg_spec.arn) or TargetGroupRuntime(tg_spec)
            group.update(tg_spec, in_use=tg_spec.arn in used)
            groups[tg_spec.arn] = group
        state.target_groups = groups
        for address in old_addresses - self._addresses():
            self.pool.close_idle(address)

        wanted = {listener.arn: listener for listener in snapshot.listeners}
        for arn, runtime in list(state.listeners.items()):
            spec = wanted.get(arn)
            if spec is None or spec.port != runtime.requested_port or spec.protocol != runtime.spec.protocol:
                runtime.close()
                del state.listeners[arn]
            else:
                runtime.update(spec)
        for spec in snapshot.listeners:
            if spec.arn not in state.listeners:
                await self._open_listener(spec)
        self.bound_ports = {arn: runtime.bound_port for arn, runtime in state.listeners.items()}

        self.checker.sync(self._checked_targets())
        self._publish()

    def _addresses(self) -> set[Address]:
        return {
            runtime.address(target)
            for runtime in self.state.target_groups.values()
            for target in runtime.spec.targets
        }

    async def _open_listener(self, spec: ListenerSpec) -> None:
        try:
            sock = open_listening_socket(spec.port, self.port_offset)
        except OSError:
            log.exception("listener %s could not bind any port", spec.arn)
            return
        runtime = ListenerRuntime(spec, int(sock.getsockname()[1]), self.state.traffic)
        state = self.state
        if spec.protocol == "TCP":
            runtime.server = await self.loop.create_server(lambda: TcpRelay(state, runtime), sock=sock)
        else:
            runtime.server = await self.loop.create_server(lambda: ClientConnection(state, runtime), sock=sock)
        state.listeners[spec.arn] = runtime
        if runtime.bound_port != spec.port + self.port_offset:
            log.info(
                "listener %s asked for port %d, which is taken: listening on 127.0.0.1:%d instead "
                "(GET /_ecsemu/listeners lists every listener's address)",
                spec.arn, spec.port, runtime.bound_port,
            )
        else:
            log.info("listener %s listening on 127.0.0.1:%d", spec.arn, runtime.bound_port)

    def _checked_targets(self) -> dict[TargetKey, tuple[TargetSpec, HealthCheckSpec]]:
        wanted: dict[TargetKey, tuple[TargetSpec, HealthCheckSpec]] = {}
        for runtime in self.state.target_groups.values():
            spec = runtime.spec
            if not runtime.in_use or not spec.health.enabled:
                continue
            for target in spec.targets:
                if target.draining_since is None:
                    wanted[spec.key(target)] = (target, spec.health)
        return wanted

    # ------------------------------------------------------------------ health

    def _on_check_result(self, key: TargetKey, result: CheckResult) -> None:
        runtime = self.state.target_groups.get(key.tg_arn)
        if runtime is None:
            return
        runtime.record_result(key, result)
        self._publish()

    def _publish(self) -> None:
        old = self.state.health_view
        new = {key: health for runtime in self.state.target_groups.values() for key, health in runtime.reported.items()}
        changed = [key for key, health in new.items() if old.get(key) != health]
        self.state.health_view = new
        for key in changed:
            for callback in self.subscribers:
                try:
                    callback(key)
                except Exception:
                    log.exception("target health subscriber failed")

    # ------------------------------------------------------------------ shutdown

    async def shutdown(self) -> None:
        state = self.state
        for runtime in state.listeners.values():
            if runtime.server is not None:
                runtime.server.close()
            runtime.closed = True
            for conn in list(runtime.connections):
                conn.abort()
        await self.checker.stop()
        self.pool.close_all()
        tasks = list(state.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.pool.close_all()
        for runtime in state.listeners.values():
            if runtime.server is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await runtime.server.wait_closed()
        state.listeners.clear()
        self.bound_ports = {}
        # Let the transports' connection_lost callbacks run, which close their sockets.
        for _ in range(3):
            await asyncio.sleep(0)
