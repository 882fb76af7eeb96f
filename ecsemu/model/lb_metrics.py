"""The embedded load balancer's traffic counters, as the metrics collector reads them.

One :class:`TrafficCounters` per (load balancer, target group) pair that carried traffic, and
one per load balancer (``target_group_arn`` ``None``: the load balancer's own totals). The
load balancer engine counts on its event loop; ``LoadBalancerEngine.traffic_counters()`` (and
``LoadBalancerSync.traffic_counters()``, which the collector calls) hand out these frozen
copies.

Counting (what each field is, in ``AWS/ApplicationELB`` / ``AWS/NetworkELB`` words)
---------------------------------------------------------------------------------
``request_count`` — RequestCount
    Per target group: requests for which a target of the group was chosen (also those the
    load balancer then answered itself with a 502/504 because the target failed). Per load
    balancer: every parsed request the load balancer answered — forwarded, answered by a
    fixed-response or redirect rule, or answered 503 because no target could be chosen.
    Requests refused as malformed (400/413/431/501/505 before any rule ran) are not counted:
    AWS leaves out requests rejected before routing; they count in ``elb_4xx``/``elb_5xx``.
``target_2xx`` .. ``target_5xx`` — HTTPCode_Target_{2,3,4,5}XX_Count
    Final responses (status >= 200; 1xx interim ones are not counted) whose head came from a
    target, per target group and per load balancer.
``elb_3xx``, ``elb_4xx``, ``elb_5xx`` — HTTPCode_ELB_{3,4,5}XX_Count
    Responses the load balancer wrote itself: redirects, fixed responses (by their status
    class; a 2xx fixed response is in no code count, as in AWS), refused requests, and the
    502/503/504 errors. ``elb_502``/``elb_503``/``elb_504`` split the last (HTTPCode_ELB_502_Count
    ...). AWS publishes the ELB codes on the ``LoadBalancer`` dimension only; the per target
    group records also carry the 502/504 of requests routed to that group, for the curious.
``target_response_time_sum_s``, ``target_response_count`` — TargetResponseTime
    Seconds from the moment the request was written to the target's connection until the
    response head arrived, summed, and how many responses were timed: Average =
    sum / count. Requests that got no response head (502/504) are not timed.
``new_connections`` — NewConnectionCount (HTTP listeners: client connections accepted).
``new_flows`` — NewFlowCount (TCP listeners: client connections given a target).
``processed_bytes`` — ProcessedBytes: HTTP listeners count the bytes received from clients
    and from targets plus the load balancer's own answers, on the load balancer's totals only
    (AWS publishes ProcessedBytes per load balancer); TCP listeners count both directions of
    each flow, per target group and per load balancer.

Invariants
----------
* Cumulative and monotonic since the engine started; the collector takes differences.
* A record disappears when its load balancer or target group leaves the engine's snapshot
  (deleted), and starts again from zero if it comes back. So a collector counts a key absent
  from its previous read, or a field lower than at its previous read, from zero (a reset),
  as Prometheus does with counters.
* Health checks are never counted (AWS leaves them out of every load balancer metric).
* ``RequestCountPerTarget`` (RequestCount of the group / its healthy targets) and the host
  counts are the collector's, from target health in the store.
"""

from __future__ import annotations

from dataclasses import dataclass

LOAD_BALANCER_MARK = ":loadbalancer/"
TARGET_GROUP_MARK = ":targetgroup/"


def load_balancer_dimension(load_balancer_arn: str) -> str:
    """The ``LoadBalancer`` dimension's value: ``app/<name>/<id>`` (``net/...`` for an NLB),
    the ARN's resource after ``loadbalancer/``; an ARN of another form is returned as it is."""
    _, found, rest = load_balancer_arn.partition(LOAD_BALANCER_MARK)
    return rest if found else load_balancer_arn


def target_group_dimension(target_group_arn: str) -> str:
    """The ``TargetGroup`` dimension's value: ``targetgroup/<name>/<id>``, the ARN's resource."""
    _, found, rest = target_group_arn.partition(TARGET_GROUP_MARK)
    return "targetgroup/" + rest if found else target_group_arn


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficCounters:
    """Cumulative since the engine started (see the module docstring for each field)."""

    load_balancer_arn: str
    target_group_arn: str | None
    """``None``: the load balancer's own totals."""
    request_count: int = 0
    target_2xx: int = 0
    target_3xx: int = 0
    target_4xx: int = 0
    target_5xx: int = 0
    elb_3xx: int = 0
    elb_4xx: int = 0
    elb_5xx: int = 0
    elb_502: int = 0
    elb_503: int = 0
    elb_504: int = 0
    target_response_time_sum_s: float = 0.0
    target_response_count: int = 0
    new_connections: int = 0
    new_flows: int = 0
    processed_bytes: int = 0

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.load_balancer_arn, self.target_group_arn)

    @property
    def load_balancer(self) -> str:
        """The ``LoadBalancer`` dimension's value."""
        return load_balancer_dimension(self.load_balancer_arn)

    @property
    def target_group(self) -> str | None:
        """The ``TargetGroup`` dimension's value (``None`` for the load balancer's totals)."""
        return None if self.target_group_arn is None else target_group_dimension(self.target_group_arn)
