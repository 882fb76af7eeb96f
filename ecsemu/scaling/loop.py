"""The scaling loop: samples metrics, evaluates alarms, invokes the policies they name, runs
scheduled actions — all on the scaling clock (``ecsemu.model.clock``).

One thread. Each tick (``tick_s`` real seconds, shorter under a compressed clock):
1. every ``sample_every_s`` of AWS time (10 s; a period's Average is the mean of its
   samples), the collector publishes a sample;
2. ``evaluate_alarms`` evaluates each alarm once per period; for every transition, each of its
   actions that is an Application Auto Scaling policy ARN is invoked (``invoke_policy``, which
   sets the service's desired count through the same record UpdateService writes) and the
   alarm's history records the action;
3. scheduled actions due are run and desired counts outside [min, max] are brought back.

Invariants: every step catches and logs its own failure, so one bad record never stops
scaling for the others; time is read once per tick from the clock and passed down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from ecsemu.model import alarms as alarm_model
from ecsemu.model.clock import ScalingClock
from ecsemu.model.scaling_decisions import clamp_to_bounds, invoke_policy, run_scheduled_actions
from ecsemu.scaling.collector import Collector
from ecsemu.state.store import Store

log = logging.getLogger(__name__)

POLICY_ARN_PREFIX: Final = "arn:aws:autoscaling:"
SAMPLE_EVERY_AWS_S: Final = 10.0
MAX_TICK_S: Final = 1.0
MIN_TICK_S: Final = 0.05


class ScalingLoop:
    def __init__(self, store: Store, clock: ScalingClock, collector: Collector) -> None:
        self.store = store
        self.clock = clock
        self.collector = collector
        self.sample_every_s = SAMPLE_EVERY_AWS_S
        self.tick_s = max(MIN_TICK_S, min(MAX_TICK_S, clock.real_seconds(SAMPLE_EVERY_AWS_S)))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sampled_at: float | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ecsemu-scaling", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            self.tick(self.clock.now())

    def tick(self, now: float) -> None:
        """One round at AWS time ``now`` (tests call it directly)."""
        if self._sampled_at is None or now - self._sampled_at >= self.sample_every_s:
            self._sampled_at = now
            self._step("collecting metrics", lambda: self.collector.sample(now))
        self._step("evaluating alarms", lambda: self._alarms(now))
        self._step("running scheduled actions", lambda: run_scheduled_actions(self.store, now))
        self._step("keeping desired counts within their bounds", lambda: clamp_to_bounds(self.store, now))

    def _alarms(self, now: float) -> None:
        for transition in alarm_model.evaluate_alarms(self.store, now):
            for action in transition.actions:
                if not action.startswith(POLICY_ARN_PREFIX):
                    continue  # SNS topics and EC2 actions reach nothing here
                try:
                    invoke_policy(
                        self.store, transition.scope, action, transition.alarm_name, transition.new_state, None, now
                    )
                    alarm_model.record_action(self.store, transition.scope, transition.alarm_name, action, True, now)
                except Exception:
                    log.exception("alarm %s: invoking %s failed", transition.alarm_name, action)
                    alarm_model.record_action(self.store, transition.scope, transition.alarm_name, action, False, now)

    @staticmethod
    def _step(what: str, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:
            log.exception("scaling: %s failed", what)
