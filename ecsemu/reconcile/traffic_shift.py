"""How far production traffic should have moved to a new revision: blue/green, linear, canary.

Pure: given the deployment configuration, the share already shifted (percent) and when the
last shift happened, say what the share should be now.

- BLUE_GREEN: all at once.
- LINEAR: ``stepPercent`` (default 10) every ``stepBakeTimeInMinutes`` (default 6).
- CANARY: ``canaryPercent`` (default 5), then the rest after ``canaryBakeTimeInMinutes`` (default 10).

After the last shift the old revision stays for ``bakeTimeInMinutes`` before it is retired.
"""

from __future__ import annotations

import math

from ecsemu.model.service import DeploymentConfiguration


def next_percent(configuration: DeploymentConfiguration, percent: int, shifted_at: float | None, now: float) -> int:
    """The share of production traffic (0-100) the new revision should receive now."""
    strategy = configuration.get("strategy", "BLUE_GREEN")
    if percent >= 100:
        return 100
    if strategy == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        step = float(linear.get("stepPercent", 10.0))
        wait = 60.0 * float(linear.get("stepBakeTimeInMinutes", 6))
        if shifted_at is not None and now - shifted_at < wait:
            return percent
        return min(100, math.floor(percent + step))
    if strategy == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        if percent == 0:
            return max(1, math.floor(float(canary.get("canaryPercent", 5.0))))
        wait = 60.0 * float(canary.get("canaryBakeTimeInMinutes", 10))
        return 100 if shifted_at is not None and now - shifted_at >= wait else percent
    return 100


def bake_over(configuration: DeploymentConfiguration, shifted_at: float | None, now: float) -> bool:
    """Whether the old revision may be retired: all traffic moved ``bakeTimeInMinutes`` ago."""
    if shifted_at is None:
        return False
    return now - shifted_at >= 60.0 * float(configuration.get("bakeTimeInMinutes") or 0)
