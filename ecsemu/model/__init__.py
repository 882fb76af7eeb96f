"""The records every layer shares, one module per resource kind: what each stored record holds,
who writes which part, its defaults, and the typed view every reader uses.

Why frozen ``dataclasses`` (``slots=True``): they are the standard library (no dependency),
mypy --strict understands them natively, ``frozen`` (with read-only mappings inside) makes a
view safe to share between the reconciler, the load balancer and API threads, and ``slots``
keeps them small and fast to build each round. attrs would add validators and converters we do not need: records are validated at
the edge, from botocore's shapes, before anything is stored.

The store keeps records as JSON documents (spec + status) so the database and AWS's own member
names stay what users wrote; each module's ``from_record`` reads that document into its typed
view, and ``to_record`` (for the parts a layer writes) writes it back.

| module               | kind(s)                           | spec written by        | status written by |
| -------------------- | --------------------------------- | ---------------------- | ----------------- |
| cluster              | cluster                           | ECS API                | (none: derived)   |
| task_definition      | taskdef, taskdef_family           | ECS API                | (none)            |
| service              | service (and its deployments)     | ECS API, scheduler     | reconciler        |
| task                 | task                              | ECS API, scheduler     | reconciler        |
| task_set             | task_set                          | ECS API                | reconciler        |
| container_instance   | container_instance                | ECS API                | (none: derived)   |
| load_balancer        | elbv2.load_balancer               | ELBv2 API              | load balancer     |
| listener             | elbv2.listener                    | ELBv2 API              | load balancer     |
| rule                 | elbv2.rule (actions, conditions)  | ELBv2 API              | (none)            |
| target_group         | elbv2.target_group, its targets   | ELBv2 API              | load balancer     |

Cross-service contracts: :mod:`load_balancing` (what ECS may read of ELBv2, and the typed
calls by which it registers targets and moves traffic). ARNs: :mod:`arns`.
"""
