"""The reconciler loop: level-triggered, one thread.

It wakes when the store reports a change, when the runtime reports one, or at the periodic
resync; it then brings its mirror of the desired state up to date, asks the runtime what it
sees, plans, and applies. While anything is between states it looks again after
``busy_interval_s``.

The mirror (``ecsemu.state.mirror``) keeps the watched kinds between rounds and decodes only
the records changed since the last round; each round's ``World`` is built from its shared
records, so an unchanged record costs nothing. Invariant: the planner and the executor never
change a record of the ``World`` (they build new status objects); with
``ECSEMU_VERIFY_SHARED_RECORDS=1`` (set by the test suite) every round checks it.

A runtime whose engine does not answer raises ``RuntimeUnavailable`` from ``observe``; the
round is skipped and tried again at the next resync. The runtime logs the outage once (a
warning when it begins, an info when it ends), so the loop logs it at debug level only.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import cast

from ecsemu.model import service as service_model
from ecsemu.model import target_group as target_group_model
from ecsemu.model import task as task_model
from ecsemu.model import task_definition as task_definition_model
from ecsemu.model import task_set as task_set_model
from ecsemu.model.service import ServiceRecord
from ecsemu.model.target_group import TargetGroup
from ecsemu.model.task import TaskRecord
from ecsemu.model.task_set import TaskSetRecord
from ecsemu.reconcile.actions import Action
from ecsemu.reconcile.executor import Executor, TargetRegistry
from ecsemu.reconcile.ids import Ids, RandomIds
from ecsemu.reconcile.plan import ScopeState, World, in_motion, plan
from ecsemu.reconcile.task_lifecycle import TaskSettings
from ecsemu.runtime.base import ContainerRuntime, RuntimeUnavailable
from ecsemu.state.mirror import Mirror
from ecsemu.state.store import Change, Store

log = logging.getLogger(__name__)
# "1": check every round that nothing changed the shared records (the test suite sets it).
VERIFY_SHARED_ENV = "ECSEMU_VERIFY_SHARED_RECORDS"

WATCHED_KINDS = frozenset({task_model.KIND, service_model.KIND, task_set_model.KIND, target_group_model.KIND})
# Task definitions are not mirrored: there may be thousands, and a round reads only those of the
# few tasks about to launch (store.get: a fresh copy, which the runtime may keep).
MIRRORED_KINDS = WATCHED_KINDS


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
        self.mirror = Mirror(store, MIRRORED_KINDS, verify=os.environ.get(VERIFY_SHARED_ENV) == "1")
        store.subscribe(self._on_change)
        runtime.subscribe(self.nudge)

    def _on_change(self, changes: list[Change]) -> None:
        if any(change.kind in WATCHED_KINDS for change in changes):
            self._wake.set()

    def nudge(self) -> None:
        self._wake.set()

    def snapshot(self) -> World:
        """The desired state as of now: the mirror's shared records, which the planner only reads
        (task definitions are fresh copies from the store: the runtime keeps parts of a launch)."""
        mirror = self.mirror
        mirror.refresh()
        world = World()
        for scope in mirror.scopes():
            if not mirror.count(scope, task_model.KIND) and not mirror.count(scope, service_model.KIND):
                continue
            # The mirror's records are the stored documents, which the model's TypedDicts describe
            # as they are: typing them is a cast, with no per-record conversion.
            state = ScopeState(
                tasks=cast(dict[str, TaskRecord], dict(mirror.shared_items(scope, task_model.KIND))),
                services=cast(dict[str, ServiceRecord], dict(mirror.shared_items(scope, service_model.KIND))),
                task_sets=cast(dict[str, TaskSetRecord], dict(mirror.shared_items(scope, task_set_model.KIND))),
            )
            wanted = {t["spec"]["taskDefinitionArn"] for t in state.tasks.values() if t["status"].get("lastStatus") in ("PROVISIONING", "PENDING")}  # fmt: skip
            for arn in wanted:
                stored = self.store.get(scope, task_definition_model.KIND, task_definition_model.record_id_of_arn(arn))
                if stored is not None:
                    state.definitions[arn] = task_definition_model.from_record(stored)
            if any(t["spec"].get("loadBalancers") for t in state.tasks.values()):
                groups = (TargetGroup.from_record(g) for _id, g in mirror.shared_items(scope, target_group_model.KIND))
                state.target_groups = {group.arn: group for group in groups}
            world.scopes[scope] = state
        return world

    def run_once(self) -> tuple[World, list[Action]]:
        world = self.snapshot()  # a consistent cut: the mirror reads the changes in one step
        observed = self.runtime.observe()
        now = self.clock()
        actions = plan(world, observed, now, self.ids, self.settings)
        self.executor.apply(actions, now)
        self.mirror.verify_shared()  # with ECSEMU_VERIFY_SHARED_RECORDS=1: nobody changed the world
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
            except RuntimeUnavailable:
                log.debug("reconcile round skipped: the runtime's engine does not answer")  # logged once by the runtime
            except Exception:
                log.exception("reconcile round failed")
            self._wake.wait(self.busy_interval_s if busy else self.resync_interval_s)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
