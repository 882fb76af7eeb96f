"""The reconciler loop: level-triggered, one thread.

It wakes when the store reports a change, when the runtime reports one, or at the periodic
resync; it then reads the whole desired state, asks the runtime what it sees, plans, and
applies. While anything is between states it looks again after ``busy_interval_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ecsemu.reconcile.actions import Action
from ecsemu.reconcile.executor import Executor, TargetRegistry
from ecsemu.reconcile.ids import Ids, RandomIds
from ecsemu.reconcile.plan import ScopeState, World, in_motion, plan
from ecsemu.reconcile.task_lifecycle import TaskSettings
from ecsemu.runtime.base import ContainerRuntime
from ecsemu.state.store import Change, Store

log = logging.getLogger(__name__)

WATCHED_KINDS = frozenset({"task", "service", "task_set", "elbv2.target_group"})
TARGET_GROUP_KIND = "elbv2.target_group"


class Reconciler:
    def __init__(
        self,
        store: Store,
        runtime: ContainerRuntime,
        settings: TaskSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        ids: Ids | None = None,
        resync_interval_s: float = 1.0,
        busy_interval_s: float = 0.1,
        registry: TargetRegistry | None = None,
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.settings = settings or TaskSettings()
        self.clock = clock
        self.ids = ids or RandomIds()
        self.executor = Executor(store, runtime, registry)
        self.resync_interval_s = resync_interval_s
        self.busy_interval_s = busy_interval_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        store.subscribe(self._on_change)
        runtime.subscribe(self.nudge)

    def _on_change(self, changes: list[Change]) -> None:
        if any(change.kind in WATCHED_KINDS for change in changes):
            self._wake.set()

    def nudge(self) -> None:
        self._wake.set()

    def snapshot(self) -> World:
        world = World()
        for scope in self.store.scopes():
            state = ScopeState(
                tasks=dict(zip(self.store.ids(scope, "task"), self.store.list(scope, "task"), strict=True)),
                services=dict(zip(self.store.ids(scope, "service"), self.store.list(scope, "service"), strict=True)),
                task_sets=dict(zip(self.store.ids(scope, "task_set"), self.store.list(scope, "task_set"), strict=True)),
            )
            wanted = {t["spec"]["taskDefinitionArn"] for t in state.tasks.values() if t["status"].get("lastStatus") in ("PROVISIONING", "PENDING")}  # fmt: skip
            for arn in wanted:
                definition = self.store.get(scope, "taskdef", arn.split("/", 1)[1])
                if definition is not None:
                    state.definitions[arn] = definition
            if any(t["spec"].get("loadBalancers") for t in state.tasks.values()):
                groups = self.store.list(scope, TARGET_GROUP_KIND)
                state.target_groups = {g["spec"]["TargetGroupArn"]: g for g in groups}
            if state.tasks or state.services:
                world.scopes[scope] = state
        return world

    def run_once(self) -> tuple[World, list[Action]]:
        with self.store.transaction():  # a consistent snapshot
            world = self.snapshot()
        observed = self.runtime.observe()
        now = self.clock()
        actions = plan(world, observed, now, self.ids, self.settings)
        self.executor.apply(actions, now)
        return world, actions

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="reconciler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            busy = False
            try:
                world, actions = self.run_once()
                busy = bool(actions) or in_motion(world)
            except Exception:
                log.exception("reconcile round failed")
            self._wake.wait(self.busy_interval_s if busy else self.resync_interval_s)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
