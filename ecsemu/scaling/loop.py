"""The scaling loop: samples metrics, evaluates alarms, invokes the policies they name, runs
scheduled actions — all on the scaling clock (``ecsemu.model.clock``).

One thread. It wakes at the next sample slot or period boundary of AWS time, whichever comes
first (at least every ``MAX_WAIT_S`` real seconds, for scheduled actions), and then:
1. at each new slot of ``sample_every_s`` AWS seconds (10 s at the real clock, so a minute's
   Average is the mean of 6 samples; never more than 2 samples a real second under a compressed
   clock, which bounds collection's cost), the collector publishes a sample;
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
import math
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
MAX_SAMPLES_PER_REAL_S: Final = 2.0
PERIOD_S: Final = 60.0
MAX_WAIT_S: Final = 1.0
MIN_WAIT_S: Final = 0.02


class ScalingLoop:
    def __init__(self, store: Store, clock: ScalingClock, collector: Collector) -> None:
        self.store = store
        self.clock = clock
        self.collector = collector
        self.sample_every_s = max(SAMPLE_EVERY_AWS_S, clock.factor / MAX_SAMPLES_PER_REAL_S)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sampled_slot: int | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ecsemu-scaling", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.wait_s(self.clock.now())):
            self.tick(self.clock.now())

    def wait_s(self, now: float) -> float:
        """Real seconds until the next sample slot or period boundary after AWS time ``now``."""
        upcoming = min((math.floor(now / step) + 1) * step for step in (self.sample_every_s, PERIOD_S))
        return max(MIN_WAIT_S, min(MAX_WAIT_S, self.clock.real_seconds(upcoming - now)))

    def tick(self, now: float) -> None:
        """One round at AWS time ``now`` (tests call it directly)."""
        slot = math.floor(now / self.sample_every_s)
        if slot != self._sampled_slot:
            self._sampled_slot = slot
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
