"""Traffic counters: what the proxies count per request, for the CloudWatch metrics.

Vocabulary
----------
``Traffic``
    One set of cumulative counters (mutable plain ints and one float), for a (load balancer,
    target group) pair or for a load balancer's totals. What each counter means, in AWS's
    words, is in ``ecsemu.model.lb_metrics`` (``TrafficCounters``, the frozen copy others read).
``TrafficBook``
    Every ``Traffic`` of the engine, keyed by ``(load balancer key, target group ARN or None)``.
    The load balancer key is the listener's ``load_balancer_arn`` (the listener's own ARN when
    the snapshot gives none, as unit tests do).

Invariants
----------
* Only the event loop thread touches a ``Traffic``: counting is a plain attribute add, no
  lock, no allocation. The proxies hold direct references (a listener caches its load
  balancer's ``Traffic`` and one per target group it forwarded to), so a request costs no
  dictionary lookup beyond the first of its target group.
* Other threads never read a ``Traffic``: ``LoadBalancerEngine.traffic_counters`` has the loop
  copy the book into frozen ``TrafficCounters`` (``TrafficBook.snapshot``) and waits for it.
* ``prune`` (on each apply) forgets the pairs whose load balancer or target group is gone, and
  listeners re-fetch their references after every apply, so nothing counts into a forgotten
  ``Traffic`` for long (an exchange already in flight may: its counts are lost with it).
"""

from __future__ import annotations

from ecsemu.model.lb_metrics import TrafficCounters

TrafficKey = tuple[str, str | None]


class Traffic:
    __slots__ = (
        "elb_3xx",
        "elb_4xx",
        "elb_5xx",
        "elb_502",
        "elb_503",
        "elb_504",
        "new_connections",
        "new_flows",
        "processed_bytes",
        "request_count",
        "response_count",
        "response_time_s",
        "target_2xx",
        "target_3xx",
        "target_4xx",
        "target_5xx",
    )

    def __init__(self) -> None:
        self.request_count = 0
        self.target_2xx = 0
        self.target_3xx = 0
        self.target_4xx = 0
        self.target_5xx = 0
        self.elb_3xx = 0
        self.elb_4xx = 0
        self.elb_5xx = 0
        self.elb_502 = 0
        self.elb_503 = 0
        self.elb_504 = 0
        self.response_time_s = 0.0
        self.response_count = 0
        self.new_connections = 0
        self.new_flows = 0
        self.processed_bytes = 0

    def target_response(self, status: int, seconds: float) -> None:
        """A final response head from a target, ``seconds`` after the request went out."""
        kind = status // 100
        if kind == 2:
            self.target_2xx += 1
        elif kind == 3:
            self.target_3xx += 1
        elif kind == 4:
            self.target_4xx += 1
        elif kind == 5:
            self.target_5xx += 1
        self.response_time_s += seconds
        self.response_count += 1

    def elb_response(self, status: int) -> None:
        """A response the load balancer wrote itself (a 2xx fixed response counts in no code)."""
        kind = status // 100
        if kind == 3:
            self.elb_3xx += 1
        elif kind == 4:
            self.elb_4xx += 1
        elif kind == 5:
            self.elb_5xx += 1
            if status == 502:
                self.elb_502 += 1
            elif status == 503:
                self.elb_503 += 1
            elif status == 504:
                self.elb_504 += 1

    def frozen(self, load_balancer_arn: str, target_group_arn: str | None) -> TrafficCounters:
        return TrafficCounters(
            load_balancer_arn=load_balancer_arn,
            target_group_arn=target_group_arn,
            request_count=self.request_count,
            target_2xx=self.target_2xx,
            target_3xx=self.target_3xx,
            target_4xx=self.target_4xx,
            target_5xx=self.target_5xx,
            elb_3xx=self.elb_3xx,
            elb_4xx=self.elb_4xx,
            elb_5xx=self.elb_5xx,
            elb_502=self.elb_502,
            elb_503=self.elb_503,
            elb_504=self.elb_504,
            target_response_time_sum_s=self.response_time_s,
            target_response_count=self.response_count,
            new_connections=self.new_connections,
            new_flows=self.new_flows,
            processed_bytes=self.processed_bytes,
        )


class TrafficBook:
    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[TrafficKey, Traffic] = {}

    def get(self, load_balancer: str, target_group: str | None) -> Traffic:
        key = (load_balancer, target_group)
        traffic = self.entries.get(key)
        if traffic is None:
            traffic = self.entries[key] = Traffic()
        return traffic

    def prune(self, load_balancers: set[str], target_groups: set[str]) -> None:
        """Forget the counters of load balancers and target groups no longer served."""
        self.entries = {
            key: traffic
            for key, traffic in self.entries.items()
            if key[0] in load_balancers and (key[1] is None or key[1] in target_groups)
        }

    def snapshot(self) -> list[TrafficCounters]:
        """Frozen copies of every counter set; call on the loop thread."""
        return [traffic.frozen(lb, tg) for (lb, tg), traffic in self.entries.items()]
