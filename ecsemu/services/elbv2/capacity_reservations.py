"""Load balancer capacity (LCU) reservations: DescribeCapacityReservation, ModifyCapacityReservation.

Stored in the load balancer's spec::

    "CapacityReservation"?: {"CapacityUnits": int, "LastModifiedTime": float,
                             "Decreases": [float]}   # times of the decreases of the last day

Invariants:
- A load balancer without a reservation describes as AWS shows one: no minimum capacity, no
  zonal states, the daily decreases remaining.
- A reservation is provisioned at once (nothing here takes time to provision), spread evenly
  over the load balancer's Availability Zones as AWS spreads it.
- A reservation can be decreased (or reset) at most ``DAILY_DECREASES`` times in 24 hours;
  increases are not counted.
- ecsemu's load balancer has no capacity to reserve: the reservation changes nothing in the
  data plane, as a reservation changes nothing a client of an idle AWS load balancer sees.
"""

from __future__ import annotations

from typing import Any, Final

from ecsemu.services.elbv2.base import LOAD_BALANCER, Call, Params, Result, operation, require, spec_of
from ecsemu.services.elbv2.errors import (
    CapacityDecreaseRequestsLimitExceeded,
    CapacityUnitsLimitExceeded,
    ValidationError,
)

DAILY_DECREASES: Final = 2
DAY_S: Final = 86_400.0
MAX_CAPACITY_UNITS: Final = 1_500_000
"""ecsemu's bound on a reservation (AWS's is an account quota)."""


def _decreases_today(reservation: dict[str, Any], now: float) -> list[float]:
    return [when for when in reservation.get("Decreases", []) if now - when < DAY_S]


def _describe(spec: dict[str, Any], now: float) -> Result:
    reservation: dict[str, Any] = spec.get("CapacityReservation") or {}
    out: Result = {"DecreaseRequestsRemaining": DAILY_DECREASES - len(_decreases_today(reservation, now))}
    units = reservation.get("CapacityUnits")
    if reservation.get("LastModifiedTime") is not None:
        out["LastModifiedTime"] = reservation["LastModifiedTime"]
    if units is None:
        out["CapacityReservationState"] = []
        return out
    zones = spec.get("AvailabilityZones") or []
    out["MinimumLoadBalancerCapacity"] = {"CapacityUnits": units}
    out["CapacityReservationState"] = [
        {
            "State": {"Code": "provisioned"},
            "AvailabilityZone": zone["ZoneName"],
            "EffectiveCapacityUnits": float(units) / len(zones),
        }
        for zone in zones
    ]
    return out


@operation("DescribeCapacityReservation")
def describe_capacity_reservation(call: Call, params: Params) -> Result:
    spec = spec_of(require(call, LOAD_BALANCER, params["LoadBalancerArn"]))
    return _describe(spec, call.now)


@operation("ModifyCapacityReservation")
def modify_capacity_reservation(call: Call, params: Params) -> Result:
    minimum, reset = params.get("MinimumLoadBalancerCapacity"), params.get("ResetCapacityReservation")
    if (minimum is None) == (not reset):
        raise ValidationError("You must specify either MinimumLoadBalancerCapacity or ResetCapacityReservation")
    units = None
    if minimum is not None:
        units = minimum.get("CapacityUnits")
        if not isinstance(units, int) or units < 1:
            raise ValidationError("CapacityUnits must be a positive integer")
        if units > MAX_CAPACITY_UNITS:
            raise CapacityUnitsLimitExceeded(f"You've reached the limit of {MAX_CAPACITY_UNITS} capacity units.")
    with call.store.transaction():
        record = require(call, LOAD_BALANCER, params["LoadBalancerArn"])
        spec = spec_of(record)
        current: dict[str, Any] = spec.get("CapacityReservation") or {}
        decreases = _decreases_today(current, call.now)
        previous = current.get("CapacityUnits")
        if previous is not None and (units is None or units < previous):
            if len(decreases) >= DAILY_DECREASES:
                raise CapacityDecreaseRequestsLimitExceeded(
                    "You've reached the limit on the number of capacity decrease requests for this load balancer."
                )
            decreases.append(call.now)
        reservation: dict[str, Any] = {"LastModifiedTime": call.now, "Decreases": decreases}
        if units is not None:
            reservation["CapacityUnits"] = units
        spec["CapacityReservation"] = reservation
        call.put(LOAD_BALANCER, spec["LoadBalancerArn"], record)
    return _describe(spec, call.now)
