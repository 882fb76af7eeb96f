"""The compiled fast path of the HTTP listeners, driven from the engine's loop.

``_fastproxy`` (C, ``_fastproxy.c``) runs an epoll loop in a thread of its own: it accepts on
every HTTP listener and forwards the plain requests itself; any connection it does not serve
(a listener with conditional rules or a non-forward action, a request with a chunked body, an
``Upgrade``...) it hands to the Python engine at a request boundary, socket and buffered bytes,
and the connection stays there. The Python HTTP proxy is the reference; this is an accelerator.

What this module keeps (on the engine loop thread, from ``EngineCore``)
----------------------------------------------------------------------
* integer ids for listeners, target groups and targets (``TargetKey``), never reused;
* what was pushed, so only changes are pushed again: each group's routable targets (the
  Python side decides health, draining and fail-open) and each listener's mode;
* the request counts of targets dropped from the C side, so ``request_counts`` never goes back.

Invariants
----------
* A listener is "forward" on the C side only when its first rule answers every request
  (``not needs_facts``) with a forward to plain-HTTP groups whose targets are IPv4 literals;
  otherwise it hands every connection off as it is accepted.
* A target leaves its groups before it is dropped, so the C side never routes to it.
* Readers on other threads (``counters``) see dicts replaced wholesale, never mutated.
* Disabled with ``ECSEMU_LB_FASTPATH=0``, or when the extension is not built: the engine is
  then the pure-Python one, with the same behaviour.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Final

from ecsemu.lb.model import Forward, TargetKey
from ecsemu.lb.runtime import EngineState, ListenerRuntime, TargetGroupRuntime

try:
    from ecsemu.lb._fastproxy import FastProxy
except ImportError:  # not built (no compiler): the Python engine serves alone
    FastProxy = None  # type: ignore[assignment,misc]

log = logging.getLogger("ecsemu.lb")

ENV_SWITCH: Final = "ECSEMU_LB_FASTPATH"
THREAD_NAME: Final = "ecsemu-lb-fast"
STOP_TIMEOUT_S: Final = 5.0
ALGORITHMS: Final = {"round_robin": 0, "least_outstanding_requests": 1}

Adopter = Callable[[int, socket.socket, bytes], None]


def available() -> bool:
    """Whether the fast path is built and not switched off."""
    return FastProxy is not None and os.environ.get(ENV_SWITCH, "1") not in {"0", "false", "no", "off"}


def _ipv4(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address)
    except ValueError:
        return False


def _group_is_plain(group: TargetGroupRuntime) -> bool:
    return not group.tls and all(t.reachable and _ipv4(t.host) for t in group.spec.targets)


class FastPath:
    """One ``FastProxy`` and its thread, configured from the engine's live state."""

    def __init__(self, loop: asyncio.AbstractEventLoop, adopt: Adopter) -> None:
        assert FastProxy is not None
        self.loop = loop
        self.adopt = adopt
        self.proxy = FastProxy()
        self._next_id = 1
        self.listener_ids: dict[str, int] = {}
        self.group_ids: dict[str, int] = {}
        self.target_ids: dict[TargetKey, int] = {}
        self.keys_by_id: dict[int, TargetKey] = {}
        self.pushed_groups: dict[int, tuple[int, tuple[int, ...]]] = {}
        self.pushed_listeners: dict[int, tuple[int, tuple[tuple[int, int], ...] | None]] = {}
        self.dropped_requests: dict[TargetKey, int] = {}
        self._counts_lock = threading.Lock()  # a target's count moves from the C side to dropped_requests
        self._thread = threading.Thread(target=self.proxy.run, args=(self._handoff,), name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------------ the C thread's calls

    def _handoff(self, listener_id: int, fd: int, data: bytes) -> None:
        """On the C thread (GIL held): the connection goes to the Python engine's loop."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=fd)
        try:
            self.loop.call_soon_threadsafe(self.adopt, listener_id, sock, data)
        except Exception:  # the loop is closed (the engine is stopping): the socket is ours to close
            sock.close()

    # ------------------------------------------------------------------ listeners

    def open_listener(self, arn: str, sock: socket.socket, bound_port: int, idle_timeout_s: float) -> int:
        listener_id = self._new_id()
        self.listener_ids[arn] = listener_id
        self.proxy.add_listener(listener_id, sock.detach(), bound_port, int(idle_timeout_s * 1000))
        return listener_id

    def close_listener(self, listener_id: int) -> None:
        self.listener_ids = {arn: lid for arn, lid in self.listener_ids.items() if lid != listener_id}
        self.pushed_listeners.pop(listener_id, None)
        self.proxy.close_listener(listener_id)

    def _forwards(self, runtime: ListenerRuntime, groups: dict[str, TargetGroupRuntime]) -> tuple[tuple[int, int], ...] | None:
        rules = runtime.ordered_rules
        if not rules or runtime.needs_facts or not isinstance(rules[0].action, Forward):
            return None
        forwards: list[tuple[int, int]] = []
        for arn, weight in rules[0].action.weights:
            group = groups.get(arn)
            if group is None:
                forwards.append((-1, weight))  # answered 503, as the Python engine does
                continue
            if not _group_is_plain(group):
                return None
            forwards.append((self.group_ids[arn], weight))
        return tuple(forwards)

    # ------------------------------------------------------------------ pushing state

    def push(self, state: EngineState) -> None:
        """Make the C side's groups, targets and listener modes match ``state`` (changes only)."""
        groups = state.target_groups
        wanted_keys = {group.spec.key(t): t for group in groups.values() for t in group.spec.targets}
        keys_changed = False
        for key, target in wanted_keys.items():
            if key not in self.target_ids and target.reachable and _ipv4(target.host):
                target_id = self._new_id()
                self.proxy.set_target(target_id, target.host, target.port)
                self.target_ids[key] = target_id
                keys_changed = True
        for arn, group in groups.items():
            group_id = self.group_ids.get(arn)
            if group_id is None:
                group_id = self.group_ids[arn] = self._new_id()
            ids = tuple(self.target_ids[k] for k in group.routable_keys if k in self.target_ids)
            pushed = (ALGORITHMS.get(group.spec.algorithm, 0), ids)
            if self.pushed_groups.get(group_id) != pushed:
                self.proxy.set_group(group_id, pushed[0], list(ids))
                self.pushed_groups[group_id] = pushed
        for arn in [arn for arn in self.group_ids if arn not in groups]:
            group_id = self.group_ids.pop(arn)
            self.pushed_groups.pop(group_id, None)
            self.proxy.drop_group(group_id)
        for key in [key for key in self.target_ids if key not in wanted_keys]:
            with self._counts_lock:
                requests = self.proxy.drop_target(self.target_ids.pop(key))
                dropped = dict(self.dropped_requests)
                dropped[key] = dropped.get(key, 0) + requests
                self.dropped_requests = dropped
            keys_changed = True
        if keys_changed:
            self.keys_by_id = {target_id: key for key, target_id in self.target_ids.items()}
        for arn, runtime in state.listeners.items():
            listener_id = self.listener_ids.get(arn)
            if listener_id is None:
                continue
            mode = (int(runtime.spec.idle_timeout_s * 1000), self._forwards(runtime, groups))
            if self.pushed_listeners.get(listener_id) != mode:
                self.proxy.configure_listener(listener_id, mode[0], None if mode[1] is None else list(mode[1]))
                self.pushed_listeners[listener_id] = mode

    # ------------------------------------------------------------------ readers (any thread)

    def counters(self) -> tuple[dict[TargetKey, int], dict[TargetKey, int]]:
        """``(in_flight, request_counts)`` of the requests the C side forwarded."""
        with self._counts_lock:
            keys = self.keys_by_id
            requests = dict(self.dropped_requests)
            live = self.proxy.counters()
        in_flight: dict[TargetKey, int] = {}
        for target_id, flying, sent in live:
            key = keys.get(target_id)
            if key is None:
                continue
            if flying:
                in_flight[key] = flying
            requests[key] = requests.get(key, 0) + sent
        return in_flight, requests

    # ------------------------------------------------------------------ shutdown

    def stop(self) -> None:
        """Close every socket of the C side and end its thread (bounded by ``STOP_TIMEOUT_S``)."""
        self.proxy.stop()
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("the load balancer's fast path did not stop within %.0f s", STOP_TIMEOUT_S)
