"""AWS's clock for metrics, alarms, cooldowns and scheduled actions — compressible.

By default it is the wall clock. ``--scaling-clock N`` makes N AWS seconds pass each real
second (60: one AWS minute a second), so a target tracking policy's 15-minute scale-in can be
watched in 15 seconds. What the APIs show stays AWS's (a Period of 60, a cooldown of 300);
only the real time between evaluations shrinks.

Invariants:
- ``now()`` never goes back within a process and equals the wall clock at ``origin``
  (process start), then runs ``factor`` times as fast.
- With a factor above 1, AWS time runs ahead of the wall clock: the timestamps CloudWatch,
  Application Auto Scaling and the collector write are on this clock, so they agree with each
  other; a datapoint a user stamps with the wall clock counts as older than it is. A restart
  starts the clock again from the wall clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ScalingClock:
    def __init__(self, factor: float = 1.0, wall: Callable[[], float] = time.time) -> None:
        if not factor >= 1.0:
            raise ValueError(f"a scaling clock runs at least as fast as the wall clock, not {factor}")
        self.factor = factor
        self._wall = wall
        self.origin = wall()
        self._lock = threading.Lock()
        self._last = self.origin

    def now(self) -> float:
        """The AWS time now (epoch seconds); never earlier than a value it gave before, even
        when the system clock is set back."""
        computed = self.origin + (self._wall() - self.origin) * self.factor
        with self._lock:
            self._last = max(self._last, computed)
            return self._last

    def real_seconds(self, aws_seconds: float) -> float:
        """How much real time ``aws_seconds`` of AWS time take."""
        return aws_seconds / self.factor
