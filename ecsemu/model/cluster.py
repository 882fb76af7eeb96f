"""The cluster record: kind ``cluster``, id the cluster name.

    {"clusterArn": str, "clusterName": str, "status": "ACTIVE" | "INACTIVE",
     "settings": [{"name": "containerInsights", "value": str}],
     "configuration"?: {...}, "serviceConnectDefaults"?: {...},
     "capacityProviders": [str], "defaultCapacityProviderStrategy": [{...}],
     "tags": [{"key": str, "value": str}], "createdAt": float}

Invariants:
- A record holds only what the API wrote. The counts DescribeClusters shows (running and
  pending tasks, active services, registered container instances) are derived from the task,
  service and container instance records of the cluster at the moment of the call — whose ids
  all start with ``<cluster name>/`` — so they are always true.
- A deleted cluster stays describable as INACTIVE (and listed by ListClusters, as ECS keeps
  listing deleted clusters for a while); creating it again makes it ACTIVE anew.
- Every other ECS record of a cluster is keyed ``<cluster name>/<…>``: tasks
  ``<cluster>/<task id>``, services ``<cluster>/<service name>``, task sets
  ``<cluster>/<service>/<task set id>``, container instances ``<cluster>/<id>``.
"""

from __future__ import annotations

from typing import Final

KIND: Final = "cluster"
DEFAULT_CLUSTER: Final = "default"
