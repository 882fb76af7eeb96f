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

from typing import Final

KIND: Final = "container_instance"
