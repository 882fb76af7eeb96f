"""The task environment: the ``TaskHooks`` the docker runtime calls for every task.

For each container at launch (``environment``):
- ``ECS_CONTAINER_METADATA_URI_V4`` / ``ECS_CONTAINER_METADATA_URI`` (v3), naming the container
  by its token; with a task role (the definition's ``taskRoleArn``, or RunTask's override),
  ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``; and, unless turned off, ``AWS_ENDPOINT_URL``, so the
  AWS SDK or CLI inside talks to ecsemu (all of them served on ``169.254.170.2`` inside the task,
  when this host can serve there — ``serves_endpoints`` — and the task has a network namespace
  of its own: bridge and awsvpc, not host or none);
- the container's ``secrets`` as variables (``secrets.py``);
- for ``awslogs``, its group checked (made with ``awslogs-create-group``), else ECS's reason.

Then ``network_ready`` hands the task's endpoint socket to the relay; ``log_lines`` and friends
write followed output (``awslogs.py``). ``lookup`` turns a token back into its task and
container for the endpoints (``endpoints.py``).

Invariants:
- Variables the task definition sets itself win over ECS's, except the metadata and
  credentials URIs, which are ECS's to set (as on ECS).
- Tokens are derived (``tokens.py``); the token index is a cache, rebuilt from the store's task
  records when a token is not in it (at most once a second).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.model import task as task_model
from ecsemu.model import task_definition as task_definition_model
from ecsemu.runtime.base import LaunchRefused, TaskLaunch
from ecsemu.runtime.netns import TASK_ENDPOINT_ADDRESS
from ecsemu.state.store import Store
from ecsemu.taskenv import tokens
from ecsemu.taskenv.awslogs import AwsLogsOptions, AwsLogsWriter, OptionError
from ecsemu.taskenv.relay import EndpointRelay
from ecsemu.taskenv.secrets import secret_environment

log = logging.getLogger(__name__)

ENDPOINT: Final = f"http://{TASK_ENDPOINT_ADDRESS}"
# Tasks with a network namespace of their own: "host" tasks share the host's (ecsemu never
# listens on a host address but 127.0.0.1), "none" tasks have no network to reach it by.
SERVED_NETWORK_MODES: Final = frozenset({"bridge", "awsvpc", ""})
REBUILD_EVERY_S: Final = 1.0


@dataclass(frozen=True)
class TaskRef:
    """A task named by its ARN: its scope and its record id (``<cluster>/<task id>``)."""

    task_arn: str
    scope: Scope
    key: str

    @classmethod
    def of(cls, task_arn: str) -> TaskRef | None:
        parts = task_arn.split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("task/"):
            return None
        return cls(task_arn, Scope(parts[4], parts[3]), parts[5][len("task/") :])

    @property
    def task_id(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class TaskEnvironment:
    def __init__(
        self,
        store: Store,
        key: bytes,
        *,
        serves_endpoints: bool,
        aws_endpoint_in_tasks: bool = True,
        relay: EndpointRelay | None = None,
        writer: AwsLogsWriter,
    ) -> None:
        self.store = store
        self.key = key
        self.serves_endpoints = serves_endpoints and relay is not None
        self.aws_endpoint_in_tasks = aws_endpoint_in_tasks
        self.relay = relay
        self.writer = writer
        self._lock = threading.Lock()
        self._index: dict[str, tuple[str, str | None]] = {}  # token → (task ARN, container | None)
        self._rebuilt_at = 0.0

    # --- launch ------------------------------------------------------------------------------

    def environment(self, launch: TaskLaunch, container: dict[str, Any]) -> dict[str, str]:
        ref = TaskRef.of(launch.task_arn)
        if ref is None:
            return {}
        name = str(container["name"])
        env: dict[str, str] = {}
        if self.serves_endpoints and launch.network_mode in SERVED_NETWORK_MODES:
            token = tokens.container_token(self.key, launch.task_arn, name)
            self._remember(token, launch.task_arn, name)
            env["ECS_CONTAINER_METADATA_URI_V4"] = f"{ENDPOINT}/v4/{token}"
            env["ECS_CONTAINER_METADATA_URI"] = f"{ENDPOINT}/v3/{token}"
            if self.task_role(ref):
                credentials = tokens.credentials_token(self.key, launch.task_arn)
                self._remember(credentials, launch.task_arn, None)
                env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = f"/v2/credentials/{credentials}"
            if self.aws_endpoint_in_tasks and not _sets(container, "AWS_ENDPOINT_URL"):
                env["AWS_ENDPOINT_URL"] = ENDPOINT
        env.update(secret_environment(self.store, ref.scope, container))
        try:
            options = AwsLogsOptions.of(container)
        except OptionError as error:
            raise LaunchRefused(f"ResourceInitializationError: failed to validate logger args: {error}", name) from None
        if options is not None:
            reason = self.writer.check_group(options, ref.scope)
            if reason:
                raise LaunchRefused(reason, name)
        return env

    def task_role(self, ref: TaskRef) -> str | None:
        task = self.task(ref)
        if task is None:
            return None
        overridden = (task["spec"].get("overrides") or {}).get("taskRoleArn")
        if overridden:
            return str(overridden)
        definition = self.definition(ref, task)
        return str(definition.get("taskRoleArn")) if definition and definition.get("taskRoleArn") else None

    def task(self, ref: TaskRef) -> task_model.TaskRecord | None:
        record = self.store.get(ref.scope, task_model.KIND, ref.key)
        return task_model.from_record(record) if record is not None else None

    def definition(
        self, ref: TaskRef, task: task_model.TaskRecord
    ) -> task_definition_model.TaskDefinitionRecord | None:
        record_id = task_definition_model.record_id_of_arn(task["spec"]["taskDefinitionArn"])
        record = self.store.get(ref.scope, task_definition_model.KIND, record_id)
        return task_definition_model.from_record(record) if record is not None else None

    def container_definition(self, ref: TaskRef, container_name: str) -> dict[str, Any] | None:
        task = self.task(ref)
        definition = self.definition(ref, task) if task is not None else None
        if definition is None:
            return None
        return next((c for c in definition["containerDefinitions"] if c.get("name") == container_name), None)

    # --- endpoints ---------------------------------------------------------------------------

    def network_ready(self, task_arn: str, listener: socket.socket) -> None:
        if self.relay is None:
            listener.close()
            return
        self.relay.serve(task_arn, listener)

    def network_gone(self, task_arn: str) -> None:
        if self.relay is not None:
            self.relay.withdraw(task_arn)

    def lookup(self, token: str) -> tuple[str, str | None] | None:
        """The (task ARN, container name or None for credentials) a token names."""
        with self._lock:
            found = self._index.get(token)
        if found is not None:
            return found
        self._rebuild()
        with self._lock:
            return self._index.get(token)

    def _remember(self, token: str, task_arn: str, container: str | None) -> None:
        with self._lock:
            self._index[token] = (task_arn, container)

    def _rebuild(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._rebuilt_at < REBUILD_EVERY_S:
                return
            self._rebuilt_at = now
        index: dict[str, tuple[str, str | None]] = {}
        for scope in self.store.scopes():
            for record in self.store.list(scope, task_model.KIND):
                task = task_model.from_record(record)
                arn = task["spec"]["taskArn"]
                index[tokens.credentials_token(self.key, arn)] = (arn, None)
                for container in task["spec"]["containers"]:
                    index[tokens.container_token(self.key, arn, container["name"])] = (arn, container["name"])
        with self._lock:
            self._index = index

    # --- awslogs (the runtime's LogSink) -----------------------------------------------------

    def resume_after(self, task_arn: str, container_name: str, container_id: str) -> int | None:
        if not self.writer.known(task_arn, container_name):
            ref = TaskRef.of(task_arn)
            container = self.container_definition(ref, container_name) if ref else None
            try:
                options = AwsLogsOptions.of(container) if container else None
            except OptionError:
                options = None
            if ref is None or options is None:
                return None
            scope = options.scope(ref.scope)
            stream = options.stream(container_name, ref.task_id, container_id)
            self.writer.register(task_arn, container_name, (scope, options.group, stream, options.starts_event))
        return self.writer.resume_after_ns(task_arn, container_name)

    def log_lines(self, task_arn: str, container_name: str, lines: list[tuple[int, str]]) -> None:
        self.writer.write(task_arn, container_name, lines)

    def log_ended(self, task_arn: str, container_name: str) -> None:
        self.writer.end(task_arn, container_name)


def _sets(container: dict[str, Any], name: str) -> bool:
    return any(entry.get("name") == name for entry in container.get("environment") or [])
