"""The load balancer data plane: an emulated ALB/NLB serving real traffic on 127.0.0.1.

Read in this order
------------------
``model``        the input (``LbSnapshot`` of listeners, rules, target groups) and ``TargetHealth``
``rules``        pure: which rule answers a request (priority order, wildcards, case rules)
``balancing``    pure: which target gets it (round robin, least outstanding, fail open, weights)
``health``       pure: the health state machine, reason codes, the matcher
``http1``        pure: HTTP/1.1 messages parsed by llhttp (httptools) as events; serializing
``request_rules`` pure: what nginx refuses beyond the grammar, with nginx's status
``forwarding``   pure: the X-Forwarded-* / trace header rewrite, response framing
``responses``    pure: the load balancer's own answers (502/503/504 pages, fixed, redirect)
``listeners``    binding 127.0.0.1 ports, with fallback
``pool``         keep-alive connections to targets
``http_proxy``   the HTTP listener (asyncio protocols): client connections
``exchange``     one forwarded request and its response
``tcp_proxy``    the TCP listener
``healthcheck``  the probes
``runtime``      live per-listener and per-target-group state on the loop
``traffic``      the traffic counters the proxies add to (RequestCount, HTTPCode_*, ...)
``core``         applying snapshots on the loop; ``engine`` the thread-safe facade

The engine knows nothing of the ELBv2 API or the state store: a sync component translates
stored records into an ``LbSnapshot`` and reads health and counters back
(``traffic_counters``: ``ecsemu.model.lb_metrics.TrafficCounters``).
"""

from ecsemu.lb.engine import LoadBalancerEngine
from ecsemu.lb.model import (
    FixedResponse,
    Forward,
    HealthCheckSpec,
    HostHeader,
    HttpHeader,
    HttpRequestMethod,
    LbSnapshot,
    ListenerSpec,
    PathPattern,
    QueryString,
    QueryStringPair,
    Redirect,
    RuleSpec,
    SourceIp,
    TargetGroupSpec,
    TargetHealth,
    TargetKey,
    TargetSpec,
)

__all__ = [
    "FixedResponse",
    "Forward",
    "HealthCheckSpec",
    "HostHeader",
    "HttpHeader",
    "HttpRequestMethod",
    "LbSnapshot",
    "ListenerSpec",
    "LoadBalancerEngine",
    "PathPattern",
    "QueryString",
    "QueryStringPair",
    "Redirect",
    "RuleSpec",
    "SourceIp",
    "TargetGroupSpec",
    "TargetHealth",
    "TargetKey",
    "TargetSpec",
]
