"""The container instance record: kind ``container_instance``, id ``<cluster>/<instance id>``
(the tail of its long ARN ``container-instance/<cluster>/<id>``; the id is 32 hex digits).

A record holds, top level, what ECS describes and the API wrote: ``containerInstanceArn``,
``clusterName``, ``status`` (ACTIVE, DRAINING, INACTIVE once deregistered), ``ec2InstanceId``,
``registeredResources``, ``versionInfo``, ``attributes``, ``tags``, ``registeredAt``,
``version`` …

Invariants:
- Counts and remaining resources are derived from the tasks placed on the instance (task
  ``spec.containerInstanceArn``) at the moment of the call, so they are always true.
- A deregistered instance stays describable as INACTIVE and no longer counts in its cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

KIND: Final = "container_instance"


@dataclass(frozen=True, slots=True)
class ContainerInstance:
    arn: str
    cluster_name: str
    status: str
    ec2_instance_id: str | None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ContainerInstance:
        return cls(
            arn=str(record["containerInstanceArn"]),
            cluster_name=str(record["clusterName"]),
            status=str(record.get("status") or "ACTIVE"),
            ec2_instance_id=record.get("ec2InstanceId"),
        )

    @property
    def counts_in_cluster(self) -> bool:
        return self.status != "INACTIVE"
