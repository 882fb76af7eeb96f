"""Inside the task: what ECS gives a task's containers, served by ecsemu.

- ``environment``: the ``TaskHooks`` the docker runtime calls — each container's variables
  (metadata and credentials URIs, ``AWS_ENDPOINT_URL``, secrets), endpoint sockets, awslogs.
- ``tokens``: the unguessable path parts that name a task (or one of its containers) in those
  URIs; derived from a key, so adopted containers keep working after a restart.
- ``relay``: the sockets listening inside tasks' network namespaces, relayed to the gateway.
- ``endpoints``: the metadata (v3, v4) and credentials answers (a WSGI layer before the gateway).
- ``metadata``: the v4/v3 documents. ``awslogs``: container output to CloudWatch Logs.
- ``secrets``: ``secrets[].valueFrom`` resolved through SSM and Secrets Manager's models.

Sits beside the reconciler: imports model/, state/ and the runtime's port; no service, no
gateway, no Docker, no HTTP framework.
"""
