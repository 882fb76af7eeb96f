"""Tasks for the task environment's unit tests, made the way users make them: through the ECS
provider (RegisterTaskDefinition, RunTask) on a memory store; no runtime runs them; launches are built as the reconciler builds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecsemu.context import RequestContext, Scope
from ecsemu.model import task as task_model
from ecsemu.model import task_definition as task_definition_model
from ecsemu.reconcile.task_lifecycle import build_launch
from ecsemu.runtime.base import TaskLaunch
from ecsemu.services.ecs.provider import EcsProvider
from ecsemu.state.store import Store
from ecsemu.taskenv.environment import TaskRef

SCOPE = Scope("123456789012", "us-east-1")
CONTEXT = RequestContext(SCOPE.account_id, SCOPE.region)
ROLE = "arn:aws:iam::123456789012:role/app-role"
KEY = bytes(range(32))


@dataclass
class Tasks:
    store: Store = field(default_factory=Store)

    def __post_init__(self) -> None:
        self.ecs = EcsProvider(self.store)
        self.ecs.handle(CONTEXT, "CreateCluster", {"clusterName": "default"})

    def run(
        self,
        family: str,
        containers: list[dict[str, Any]] | None = None,
        *,
        overrides: dict[str, Any] | None = None,
        **definition: Any,
    ) -> str:
        """Register ``family`` (by default one container ``main``) and run one task; its ARN."""
        self.ecs.handle(
            CONTEXT,
            "RegisterTaskDefinition",
            {
                "family": family,
                "containerDefinitions": containers or [{"name": "main", "image": "busybox", "memory": 64}],
                **definition,
            },
        )
        params: dict[str, Any] = {"cluster": "default", "taskDefinition": family}
        if overrides:
            params["overrides"] = overrides
        return str(self.ecs.handle(CONTEXT, "RunTask", params)["tasks"][0]["taskArn"])

    def launch(self, task_arn: str) -> TaskLaunch:
        ref = TaskRef.of(task_arn)
        assert ref is not None
        task = task_model.from_record(self.store.get(ref.scope, task_model.KIND, ref.key) or {})
        record_id = task_definition_model.record_id_of_arn(task["spec"]["taskDefinitionArn"])
        definition = self.store.get(ref.scope, task_definition_model.KIND, record_id)
        assert definition is not None
        return build_launch(task["spec"], task_definition_model.from_record(definition))

    def container(self, task_arn: str, name: str = "main") -> dict[str, Any]:
        return next(c for c in self.launch(task_arn).containers if c["name"] == name)

    def set_last_status(self, task_arn: str, last_status: str) -> None:
        ref = TaskRef.of(task_arn)
        assert ref is not None
        record = self.store.get(ref.scope, task_model.KIND, ref.key)
        assert record is not None
        record["status"]["lastStatus"] = last_status
        self.store.put(ref.scope, task_model.KIND, ref.key, record)
