"""The task endpoints ECS serves on ``169.254.170.2``: metadata v4 and v3, and task-role
credentials — a plain WSGI layer in front of the gateway (everything else passes through).

Paths (``<token>`` from ``tokens.py``; an unknown one is 404):
- ``GET /v4/<token>``, ``/v4/<token>/task``, ``/v4/<token>/stats``, ``/v4/<token>/task/stats``
  (and the same under ``/v3/``): the container's and task's documents (``metadata.py``), and
  Docker's stats of the container, or of every container of the task keyed by Docker id.
- ``GET /v2/credentials/<token>``: ``RoleArn``, ``AccessKeyId``, ``SecretAccessKey``, ``Token``,
  ``Expiration`` — what the SDKs' container credential provider reads. The access key id is
  ``ASIA`` + the task's account + 4 characters, which the gateway reads as that account.

Invariants:
- Only GET and HEAD are answered here; a request with an ``Origin`` header (a browser page) is
  refused, so a page on the host cannot read a task's credentials.
- Credentials are stable for a task (derived from the emulator's key) and expire 6 hours after
  they are read; a stopped task's are refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from ecsemu.taskenv import metadata, tokens
from ecsemu.taskenv.environment import TaskEnvironment, TaskRef

Record = dict[str, Any]
CREDENTIALS_LIFETIME_S: Final = 6 * 3600
_PREFIXES: Final = ("/v4/", "/v3/", "/v2/credentials/")


class TaskReader(Protocol):
    """What the endpoints read of a runtime (the docker runtime has these)."""

    def task_details(self, task_arn: str) -> dict[str, Record]: ...

    def container_stats(self, task_arn: str, container_name: str) -> Record | None: ...


class TaskEndpoints:
    def __init__(
        self, app: Callable[..., Iterable[bytes]], environment: TaskEnvironment, runtime: TaskReader | None
    ) -> None:
        self.app = app
        self.environment = environment
        self.runtime = runtime

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(_PREFIXES):
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get("HTTP_ORIGIN"):
            return _answer(start_response, 405 if not environ.get("HTTP_ORIGIN") else 403, {"error": "not allowed"})
        status, body = self.answer(path)
        return _answer(start_response, status, body)

    def answer(self, path: str) -> tuple[int, Any]:
        if path.startswith("/v2/credentials/"):
            return self._credentials(path[len("/v2/credentials/") :])
        version, _, rest = path[1:].partition("/")
        token, _, what = rest.partition("/")
        found = self.environment.lookup(token)
        container_name = found[1] if found is not None else None
        if found is None or container_name is None:
            return 404, {"error": "unknown task metadata token"}
        task_arn = found[0]
        ref = TaskRef.of(task_arn)
        task = self.environment.task(ref) if ref else None
        if ref is None or task is None:
            return 404, {"error": "the task is gone"}
        if what in ("stats", "task/stats"):
            return 200, self._stats(task_arn, container_name if what == "stats" else None)
        if what not in ("", "task"):
            return 404, {"error": f"unknown metadata path {path}"}
        details = self.runtime.task_details(task_arn) if self.runtime is not None else {}
        definition = self.environment.definition(ref, task)
        definitions = {str(c.get("name", "")): c for c in (definition["containerDefinitions"] if definition else [])}
        if what == "task":
            document = metadata.task_document(task, details, definitions)
            return 200, document if version == "v4" else metadata.v3(document, metadata.V3_TASK_FIELDS)
        document = metadata.container_document(
            task, container_name, details.get(container_name), definitions.get(container_name)
        )
        return 200, document if version == "v4" else {
            k: v for k, v in document.items() if k in metadata.V3_CONTAINER_FIELDS
        }

    def _stats(self, task_arn: str, container_name: str | None) -> Any:
        if self.runtime is None:
            return {} if container_name is None else None
        if container_name is not None:
            return self.runtime.container_stats(task_arn, container_name)
        out: Record = {}
        for name, inspected in self.runtime.task_details(task_arn).items():
            out[str(inspected.get("Id", name))] = self.runtime.container_stats(task_arn, name)
        return out

    def _credentials(self, token: str) -> tuple[int, Any]:
        found = self.environment.lookup(token)
        if found is None or found[1] is not None:
            return 400, {"code": "InvalidIdInRequest", "message": "CredentialsV2Request: Credentials not found"}
        task_arn = found[0]
        ref = TaskRef.of(task_arn)
        task = self.environment.task(ref) if ref else None
        role = self.environment.task_role(ref) if ref else None
        if ref is None or task is None or role is None or task["status"].get("lastStatus") == "STOPPED":
            return 400, {"code": "InvalidIdInRequest", "message": "CredentialsV2Request: Credentials not found"}
        key = self.environment.key
        expiration = datetime.fromtimestamp(time.time() + CREDENTIALS_LIFETIME_S, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 200, {
            "RoleArn": role,
            "AccessKeyId": "ASIA" + ref.scope.account_id + tokens.secret_material(key, task_arn, "key-id", 4).upper(),
            "SecretAccessKey": tokens.secret_material(key, task_arn, "secret", 40),
            "Token": tokens.secret_material(key, task_arn, "token", 356),
            "Expiration": expiration,
        }


def _answer(start_response: Callable[..., Any], status: int, body: Any) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    phrases = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}
    start_response(
        f"{status} {phrases[status]}", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]
