"""``LoadBalancerEngine``: the data plane, an asyncio event loop in a thread of its own.

Usage::

    engine = LoadBalancerEngine(port_offset=0) # simulated_health=: see "Simulated targets"
    engine.start()
    engine.apply(snapshot)             # as often as the records change; declarative
    port = engine.bound_port(listener_arn)
    engine.target_health()             # {(tg_arn, target_id, port): TargetHealth}
    engine.traffic_counters()          # [TrafficCounters]: cumulative, per LB and per LB+TG
    engine.stop()                      # closes every socket and ends the thread

Event loop
----------
uvloop's when it is installed (``default_loop_factory``), else asyncio's; ``loop_factory``
chooses another. One HTTP engine serves every HTTP listener (``http_proxy``, parsing with
llhttp: see ``http1``).

Simulated targets
-----------------
``simulated_health`` (the simulated runtime's ``target_health``) claims the ports of its
tasks. ``apply`` gives every target at 127.0.0.1 on a claimed port the host ``NO_ADDRESS``
(``mark_simulated``): the data plane never dials it (the proxy answers 502, as for a target
nobody listens on) and the health checker runs the same
state machine on the runtime's answer instead of a socket probe.

Thread model
------------
* Every method may be called from any thread. ``apply`` and ``stop`` run their work on the
  engine's loop and wait for it, each within a named bound (``APPLY_TIMEOUT_S``,
  ``STOP_TIMEOUT_S``). Called from the engine thread itself (a subscriber reacting to a
  change), ``apply`` is scheduled and returns at once.
* Readers (``bound_port``, ``target_health``, ``request_counts``, ``in_flight``) never wait for
  the loop: they read dicts the loop replaces wholesale or copy under the GIL.
* ``traffic_counters`` is the one reader that asks the loop: the counters are plain ints the
  proxies add to with no lock, so the loop itself copies them into frozen records
  (consistent with each other: no request is half counted) and the caller waits for that copy,
  at most ``TRAFFIC_TIMEOUT_S``. Copying a few hundred records takes microseconds of the loop.
* Subscribers are called on the engine thread with the changed target's key; they must be
  quick and must not block (hand the key to your own queue).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Final

from ecsemu.lb.core import EngineCore, HealthListener
from ecsemu.lb.healthcheck import SimulatedHealth
from ecsemu.lb.model import NO_ADDRESS, LbSnapshot, TargetHealth, TargetKey
from ecsemu.model.lb_metrics import TrafficCounters

log = logging.getLogger("ecsemu.lb")

START_TIMEOUT_S: Final = 10.0
APPLY_TIMEOUT_S: Final = 10.0
STOP_TIMEOUT_S: Final = 10.0
TRAFFIC_TIMEOUT_S: Final = 5.0
THREAD_NAME: Final = "ecsemu-lb"
LOOPBACK: Final = "127.0.0.1"


def default_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop when uvloop is importable, else asyncio's."""
    try:
        import uvloop  # noqa: PLC0415 - optional at run time: asyncio's loop serves without it
    except ImportError:
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def mark_simulated(snapshot: LbSnapshot, simulated_health: SimulatedHealth) -> LbSnapshot:
    """``snapshot`` with every target the simulated runtime claims moved to ``NO_ADDRESS``."""
    groups = []
    for group in snapshot.target_groups:
        targets = tuple(
            replace(t, host=NO_ADDRESS) if t.host == LOOPBACK and simulated_health(t.port) is not None else t
            for t in group.targets
        )
        groups.append(replace(group, targets=targets) if targets != group.targets else group)
    changed = any(new is not old for new, old in zip(groups, snapshot.target_groups, strict=True))
    return replace(snapshot, target_groups=tuple(groups)) if changed else snapshot


class LoadBalancerEngine:
    def __init__(
        self,
        *,
        port_offset: int = 0,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
        simulated_health: SimulatedHealth | None = None,
    ) -> None:
        self.port_offset = port_offset
        self.simulated_health = simulated_health
        self._loop_factory = loop_factory or default_loop_factory()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._core: EngineCore | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._subscribers: tuple[HealthListener, ...] = ()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is not None:
            return
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the load balancer engine did not start")

    def _run(self) -> None:
        loop = self._loop_factory()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._core = EngineCore(loop, port_offset=self.port_offset)
        self._core.checker.simulated_health = self.simulated_health
        with self._lock:
            self._core.subscribers = self._subscribers
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    def stop(self) -> None:
        """Close every listener and connection, end the thread; bounded by ``STOP_TIMEOUT_S``."""
        thread, loop, core = self._thread, self._loop, self._core
        if thread is None or loop is None or core is None:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(core.shutdown(), loop)
            future.result(STOP_TIMEOUT_S)
        except (concurrent.futures.TimeoutError, RuntimeError):
            log.warning("load balancer shutdown did not finish within %.0f s", STOP_TIMEOUT_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive():
                log.warning("load balancer thread did not end within %.0f s", STOP_TIMEOUT_S)
            self._thread = None
            self._loop = None
            self._core = None

    def __enter__(self) -> LoadBalancerEngine:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ desired state

    def apply(self, snapshot: LbSnapshot) -> None:
        """Make listeners, rules, targets and health checks match ``snapshot``."""
        loop, core = self._loop, self._core
        if loop is None or core is None:
            raise RuntimeError("the load balancer engine is not running")
        if self.simulated_health is not None:
            snapshot = mark_simulated(snapshot, self.simulated_health)
        if threading.current_thread() is self._thread:
            loop.create_task(core.apply(snapshot))
            return
        asyncio.run_coroutine_threadsafe(core.apply(snapshot), loop).result(APPLY_TIMEOUT_S)

    # ------------------------------------------------------------------ observed state

    def bound_port(self, listener_arn: str) -> int | None:
        core = self._core
        return core.bound_ports.get(listener_arn) if core is not None else None

    def target_health(self) -> dict[TargetKey, TargetHealth]:
        core = self._core
        return dict(core.state.health_view) if core is not None else {}

    def request_counts(self) -> dict[TargetKey, int]:
        """Requests sent to each target since the engine started (connections, for TCP)."""
        core = self._core
        if core is None:
            return {}
        return core.state.request_counts.copy()

    def traffic_counters(self) -> list[TrafficCounters]:
        """Every load balancer's and (load balancer, target group) pair's traffic counters,
        cumulative since the engine started (``ecsemu.model.lb_metrics``); ``[]`` when stopped.

        Raises ``TimeoutError`` when the loop did not copy them within ``TRAFFIC_TIMEOUT_S``.
        """
        loop, core = self._loop, self._core
        if loop is None or core is None:
            return []
        if threading.current_thread() is self._thread:
            return core.state.traffic.snapshot()
        future: concurrent.futures.Future[list[TrafficCounters]] = concurrent.futures.Future()

        def copy() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(core.state.traffic.snapshot())
                except Exception as error:  # pragma: no cover - a copy of ints does not fail
                    future.set_exception(error)

        try:
            loop.call_soon_threadsafe(copy)
        except RuntimeError:  # the loop closed meanwhile
            return []
        try:
            return future.result(TRAFFIC_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError("the load balancer did not report its traffic counters in time") from None

    def in_flight(self, tg_arn: str, target_id: str, port: int) -> int:
        """Requests (TCP: connections) to that target not yet completed."""
        core = self._core
        if core is None:
            return 0
        return core.state.in_flight.get(TargetKey(tg_arn, target_id, port), 0)

    def subscribe(self, callback: HealthListener) -> Callable[[], None]:
        """Call ``callback(key)`` on the engine thread whenever a target's reported health changes.

        Returns a function that unsubscribes it. Subscriptions made before ``start`` count.
        """
        with self._lock:
            self._subscribers = (*self._subscribers, callback)
            self._push_subscribers()

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(c for c in self._subscribers if c is not callback)
                self._push_subscribers()

        return unsubscribe

    def _push_subscribers(self) -> None:
        if self._core is not None:
            self._core.subscribers = self._subscribers
