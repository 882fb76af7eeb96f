"""Metrics and scaling: the collector (``collector.py``) turns what really runs into CloudWatch
datapoints; the loop (``loop.py``) evaluates alarms on the scaling clock and invokes the
Application Auto Scaling policies they name. Beside the reconciler: imports model/, state/ and
the runtime's port; never a service, the gateway or the load balancer's engine (its counters
come in as a callable)."""
