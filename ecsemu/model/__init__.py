"""The records every layer shares, one module per resource kind: what each stored record holds,
who writes which part, its defaults, and the typed view every reader uses.

Why frozen ``dataclasses`` (``slots=True``): they are the standard library (no dependency),
mypy --strict understands them natively, ``frozen`` (with read-only mappings inside) makes a
view safe to share between the reconciler, the load balancer and API threads, and ``slots``
keeps them small and fast to build each round. attrs would add validators and converters we do
not need: records are validated at the edge, from botocore's shapes, before anything is stored.

The store keeps records as JSON documents (spec + status) so the database and AWS's own member
names stay what users wrote; each module's ``from_record`` reads that document into its typed
view, and ``to_record`` (for the parts a layer writes) writes it back.

Why the ECS records the reconciler reads and writes (service and its deployments, task, task set,
and the task definitions tasks are launched from) are ``TypedDict``s instead:
they are API-shaped JSON documents that the planner rewrites every round (counts, rolloutState,
events, lastStatus, registrations) and the ECS API renders almost member for member. A
``TypedDict`` describes each document exactly as stored (``total=False``, ``Required[...]`` for
what the writers always put), so mypy --strict checks every key name and value type where the
records are read and written, while (de)serialisation is the identity: ``from_record`` and
``to_record`` are casts, with no copy or conversion on the reconciler's hot path, and the stored
JSON stays what it is (no migration). Members that are API blobs passed through unread
(networkConfiguration, overrides, capacity provider strategies, container definitions) stay
``dict[str, Any]``, and say so. The read-only views one service takes of another's records
(target groups, listeners, rules, load balancers) stay frozen dataclasses. One limit: mypy does
not flag ``.get("<unknown key>")`` on a TypedDict (it returns ``object``), only ``[...]``.

| module               | kind(s)                           | spec written by        | status written by |
| -------------------- | --------------------------------- | ---------------------- | ----------------- |
| cluster              | cluster                           | ECS API                | (none: derived)   |
| task_definition (TD) | taskdef, taskdef_family           | ECS API                | (none)            |
| service (TD)         | service (and its deployments)     | ECS API, scheduler     | reconciler        |
| task (TD)            | task                              | ECS API, scheduler     | reconciler        |
| task_set (TD)        | task_set                          | ECS API                | reconciler        |
| container_instance   | container_instance                | ECS API                | (none: derived)   |
| load_balancer        | elbv2.load_balancer               | ELBv2 API              | load balancer     |
| listener             | elbv2.listener                    | ELBv2 API              | load balancer     |
| rule                 | elbv2.rule (actions, conditions)  | ELBv2 API              | (none)            |
| target_group         | elbv2.target_group, its targets   | ELBv2 API              | load balancer     |
| logs                 | logs.group, logs.stream; events (*)| Logs API, awslogs      | (none)            |
| ssm_parameters       | ssm.parameter                     | SSM API                | (none)            |
| secrets_manager      | secretsmanager.secret             | Secrets Manager API    | (none)            |
| queues, queue_messages | sqs.queue, sqs.deleted_queue; messages (*) | SQS API      | (none)            |
| metrics              | datapoints (*), metric catalog (*)      | CloudWatch API, collector | (none)         |
| alarms               | cloudwatch.alarm; history (*)      | CloudWatch API, Auto Scaling | scaling loop |
| scaling, scaling_*   | autoscaling.scalable_target, .policy, .scheduled_action; activities (*) | Auto Scaling API | scaling loop (activities) |
| service_capacity     | (service: spec.desiredCount)      | scaling loop, as UpdateService | —        |
| lb_metrics           | (none: the load balancer's counters, read by the collector) | —  | —       |
| clock                | (none: the scaling clock every metric, alarm and cooldown reads) | — | —      |

(TD: TypedDict. (*): a side table, ``ecsemu.state.tables``.) Clusters and container instances are read and written by the ECS API alone; their
modules give the layout and the kind's name. Tags: :mod:`tags`.

Cross-service contracts: :mod:`load_balancing` (what ECS may read of ELBv2, and the typed
calls by which it registers targets and moves traffic); :mod:`logs` (``LogStore``, through which
the awslogs driver writes); :mod:`ssm_parameters` and :mod:`secrets_manager` (``resolve_*``, for
task secrets); :mod:`alarms` (``put_alarm``/``delete_alarms`` for target tracking policies,
``evaluate_alarms`` for the scaling loop); :mod:`scaling_decisions` (``invoke_policy``,
``run_scheduled_actions``, ``clamp_to_bounds``); :mod:`service_capacity` (a desired count set as
UpdateService sets it). ARNs: :mod:`arns`.
"""
