"""What the docker runtime reports of a task: its containers as a listing shows them, completed
by this process's launch job (containers still pulling, non-essential ones blocked for good,
the launch's failure and pull times).

Pure apart from ``ContainerFacts`` (the cache of inspections): no Docker call is made here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecsemu.runtime import docker_sandbox as sandboxes
from ecsemu.runtime import docker_spec as spec
from ecsemu.runtime.base import ObservedContainer, ObservedTask, TaskLaunch
from ecsemu.runtime.docker_facts import ContainerFacts

Record = dict[str, Any]


@dataclass
class LaunchJob:
    """This process's work on one task's launch (see ``ecsemu.runtime.docker``)."""

    launch: TaskLaunch
    order: list[str]
    by_name: dict[str, Record]
    phase: str = "idle"  # idle | queued | running | done
    rerun: bool = False
    env: dict[str, dict[str, str]] | None = None
    images: sandboxes.ImageResolution | None = None
    blocked: dict[str, str] = field(default_factory=dict)  # non-essential, never to start → reason
    started: dict[str, float] = field(default_factory=dict)
    failure: str | None = None
    failed_container: str | None = None
    errors: int = 0
    polls: int = 0


def observe_task(
    facts: ContainerFacts, task_arn: str, summaries: list[Record], job: LaunchJob | None, halted: bool
) -> ObservedTask:
    """What one task's containers are, from one listing (``summaries``) and this process's job."""
    sandbox = next((s for s in summaries if s["Labels"].get(spec.ROLE) == "sandbox"), None)
    published = sandboxes.published_ports(sandbox.get("Ports")) if sandbox else {}
    containers = {}
    for summary in summaries:
        if summary["Labels"].get(spec.ROLE) == "container":
            # A one-container task publishes its ports on the container itself.
            own = published if sandbox else sandboxes.published_ports(summary.get("Ports"))
            observed = observe_container(facts, summary, own, halted)
            containers[observed.name] = observed
    if job is None:
        return ObservedTask(task_arn, containers)
    if job.phase != "done" and not halted:
        for name in job.order:
            containers.setdefault(name, ObservedContainer(name, "pulling"))
    for name, reason in list(job.blocked.items()):
        if name in containers and containers[name].state != "exited":
            containers[name] = ObservedContainer(name, "exited", reason=reason, runtime_id=containers[name].runtime_id)
    return ObservedTask(
        task_arn,
        containers,
        failure=job.failure,
        failed_container=job.failed_container,
        pull_started_at=job.images.started_at if job.images else None,
        pull_stopped_at=job.images.stopped_at if job.images else None,
    )

def observe_container(facts: ContainerFacts, summary: Record, published: dict[str, int], halted: bool) -> ObservedContainer:
    """One container as the reconciler sees it; inspections come from ``facts``' cache."""
    labels, status = summary["Labels"], str(summary.get("Status", ""))
    name, docker_state = labels[spec.CONTAINER_NAME], str(summary.get("State", ""))
    state = spec.container_state(docker_state)
    if state == "created":  # never started; a halted task's never will
        return ObservedContainer(name, "exited" if halted else "created", runtime_id=summary["Id"], image_digest=facts.digest(summary))
    details = facts.inspect(summary["Id"], docker_state)
    exited = state == "exited"
    exit_code = (details.exit_code if details.exit_code is not None else spec.exit_code_from_status(status)) if exited else None
    return ObservedContainer(
        name,
        state,
        exit_code=exit_code,
        reason=spec.OOM_REASON if exited and details.oom_killed else None,
        health=spec.health_from_status(status) if state == "running" else "UNKNOWN",
        runtime_id=summary["Id"],
        image_digest=facts.digest(summary),
        started_at=details.started_at,
        finished_at=details.finished_at if exited else None,
        network_bindings=sandboxes.network_bindings(labels.get(spec.PORTS, ""), published, labels.get(spec.NETWORK_MODE) == "host"),
    )
