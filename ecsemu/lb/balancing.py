"""Target choice: which target gets the next request. Pure functions, no I/O.

Rules (ELB's, as documented for Application Load Balancers)
-----------------------------------------------------------
* A draining target (deregistration in progress) never gets a new request.
* Requests go to the healthy targets. A target whose group has health checks disabled
  (state ``unavailable``) counts as in service.
* Fail open: when no registered target is in service (all ``initial`` or ``unhealthy``), the
  load balancer sends requests to all registered targets regardless of their health.
* No registered target at all (none, or all draining): nothing to choose; the proxy answers 503.
* ``round_robin``: the candidates in turn, in snapshot order; the rotation counter belongs to
  the caller (one per target group) and is passed in and out.
* ``least_outstanding_requests``: the candidate with the fewest in-flight requests; ties are
  broken by rotating through the tied candidates, so an idle group still spreads its load.
* Weighted forward between target groups: smooth weighted round robin (each group is picked
  exactly ``weight`` times in every ``sum(weights)`` picks, interleaved). AWS does not document
  its own method; this one is exact, so tests can be too.
* Deregistration is complete when the draining target has no request in flight, or when the
  group's deregistration delay has elapsed since ``draining_since``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from ecsemu.lb.model import TargetGroupSpec, TargetHealth, TargetKey, TargetSpec

T = TypeVar("T")

IN_SERVICE_STATES = frozenset({"healthy", "unavailable"})


def is_registered(target: TargetSpec) -> bool:
    return target.draining_since is None


def routable_targets(tg: TargetGroupSpec, health: Mapping[TargetKey, TargetHealth]) -> tuple[TargetSpec, ...]:
    """The targets a new request may go to (in snapshot order), failing open when none is healthy."""
    registered = [t for t in tg.targets if t.draining_since is None]
    in_service = [t for t in registered if (h := health.get(tg.key(t))) is not None and h.state in IN_SERVICE_STATES]
    return tuple(in_service or registered)


def choose_round_robin(candidates: Sequence[T], counter: int) -> tuple[T | None, int]:
    """``(target, next_counter)``; ``(None, counter)`` when there is no candidate."""
    if not candidates:
        return None, counter
    return candidates[counter % len(candidates)], counter + 1


def choose_least_outstanding(candidates: Sequence[T], loads: Sequence[int], counter: int) -> tuple[T | None, int]:
    """``(target, next_counter)``: fewest in-flight requests (``loads``, one per candidate);
    ties rotate with ``counter``."""
    if not candidates:
        return None, counter
    least = min(loads)
    tied = [t for t, load in zip(candidates, loads, strict=True) if load == least]
    return tied[counter % len(tied)], counter + 1


def choose_weighted(weights: Sequence[int], current: Sequence[int]) -> tuple[int | None, tuple[int, ...]]:
    """Smooth weighted round robin: ``(index, next_current)``; ``None`` when all weights are 0.

    ``current`` is the caller's running score per entry (start with zeros, same length).
    """
    total = sum(weights)
    if total <= 0:
        return None, tuple(current)
    scores = [c + w for c, w in zip(current, weights, strict=True)]
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    scores[best] -= total
    return best, tuple(scores)


def deregistration_complete(tg: TargetGroupSpec, target: TargetSpec, in_flight: int, now: float) -> bool:
    """Whether the control plane may drop a draining target from the snapshot (``now``: wall clock)."""
    if target.draining_since is None:
        return False
    return in_flight <= 0 or now >= target.draining_since + tg.deregistration_delay_s
