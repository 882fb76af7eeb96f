"""The docker runtime: a task's containers are real containers on a local Docker engine.

Vocabulary:
- A *job* is this process's work on one task's launch: resolve images, create what is
  missing, start what is ready. It runs as *steps* on a few worker threads. A step never
  waits for a pull or a dependency: it looks, acts, and asks to run again later (at once
  when a pull ends or a Docker event about the task arrives).
- A task is *halted* once ``stop`` or ``remove`` was asked for it: nothing of it is created
  or started any more, and its never-started containers are observed as exited.
- The *sandbox* and the cluster network: see ``docker_sandbox``; the create arguments: see
  ``docker_spec``; a container's environment: ``container_env``; what a task is observed as
  (its listing plus its job): ``docker_observe``; the engine's events: ``docker_events``; the
  task environment's endpoints and awslogs: ``docker_taskenv``; what tasks use:
  ``docker_usage``.

Invariants:
- Every object this runtime creates is labelled, and it only ever lists, stops or removes
  objects labelled ``ecsemu.managed=true``.
- ``launch`` is idempotent and resumable: a step lists the task's containers by label,
  creates only the missing ones, starts only ``created`` ones whose dependencies hold, and
  never restarts an exited one. A launch in flight (or finished) in this process is a
  no-op; after a restart a launch finds the first process's containers and carries on.
- Creates and starts happen under the task's lock after checking that the task is not
  halted; a stop takes the same lock before listing what to stop, so nothing escapes it.
- ``observe`` makes one list call; inspections (exit details, start times, image digests)
  are cached and warmed by the event thread and the launch steps, off the hot path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import docker.errors

from ecsemu.runtime import container_env
from ecsemu.runtime import docker_sandbox as sandboxes
from ecsemu.runtime import docker_spec as spec
from ecsemu.runtime.base import (
    EngineOutage,
    LaunchRefused,
    ObservedTask,
    RuntimeUnavailable,
    TaskHooks,
    TaskLaunch,
    TaskUsage,
)
from ecsemu.runtime.docker_engine import docker_available, engine_down
from ecsemu.runtime.docker_events import EngineEvents
from ecsemu.runtime.docker_facts import ContainerFacts
from ecsemu.runtime.docker_observe import LaunchJob, observe_task
from ecsemu.runtime.docker_taskenv import TaskPlumbing
from ecsemu.runtime.docker_usage import CgroupReader, task_usage

log = logging.getLogger(__name__)
Record = dict[str, Any]

DEPENDENCY_POLL_S = 0.25  # a fallback: events about the task wake a waiting step sooner
MAX_STEP_ERRORS = 3


class _Halted(Exception):
    """The task was asked to stop while its launch was in flight."""


class _Relist(Exception):
    """A create met this task's container under its name (another launch got there first):
    the step's listing is stale, so look again at once rather than act on it."""


USAGE_LISTING_MAX_AGE_S = 1.0  # a container listing this fresh (observe's) serves the metrics


class DockerRuntime:
    """The ``ContainerRuntime`` port on a Docker engine.

    - ``client``: a ``docker.DockerClient`` (default: ``docker.from_env()``).
    - ``pull_timeout_s``: how long a launch waits for its pulls before CannotPullContainerError.
    - ``allow_host_access``: let tasks have host networking, host volumes, privileged mode,
      added capabilities and devices (refused otherwise, as ``docker_spec.refusal`` words it).
    - ``region``: AWS_REGION for a task whose ARN names none. ``account_id``: kept for the
      task metadata endpoint to come.
    - ``keep_stopped``: ``remove`` leaves a stopped task's containers in Docker (for
      ``docker logs``) and only stops reporting them.
    - ``namespace``: see ``docker_spec.owned``; "" is the emulator's own.
    - ``hooks``: the task environment (``TaskHooks``): variables, secrets, endpoints inside each
      task's network namespace, awslogs output (see ``docker_taskenv``); none without it.
    """

    name = "docker"
    docker_available = staticmethod(docker_available)

    def __init__(
        self,
        client: Any = None,
        *,
        pull_timeout_s: float = 60.0,
        allow_host_access: bool = False,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        keep_stopped: bool = False,
        namespace: str = "",
        hooks: TaskHooks | None = None,
    ) -> None:
        self._own_client = client is None
        self._client = docker.from_env() if client is None else client
        self._api = self._client.api
        self.pull_timeout_s = pull_timeout_s
        self.allow_host_access = allow_host_access
        self.region = region
        self.account_id = account_id
        self.keep_stopped = keep_stopped
        self.namespace = namespace
        self._filter = [spec.MANAGED_FILTER, *([f"{spec.NAMESPACE}={namespace}"] if namespace else [])]
        self._lock = threading.Lock()
        self._jobs: dict[str, LaunchJob] = {}
        self._halted: set[str] = set()
        self._hidden: set[str] = set()  # removed with keep_stopped: left in Docker, not observed
        self._busy: set[tuple[str, str]] = set()  # ("stop" | "remove", task arn) in flight
        self._task_locks: dict[str, threading.Lock] = {}
        self._images = sandboxes.Images(self._api)
        self._facts = ContainerFacts(self._api)
        self._networks = sandboxes.Networks(self._api)
        self._host_cpus: int | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._closed = threading.Event()
        self._events = EngineEvents(self._api, self._filter, self._on_event, self._notify)
        self._steps = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ecsemu-launch")
        self._outage = EngineOutage(log, "the Docker engine")
        self._plumbing = TaskPlumbing(self._api, hooks) if hooks is not None else None
        self._cgroups = CgroupReader()
        self._listed: tuple[float, list[Record]] = (0.0, [])  # observe's last listing, for usage

    # --- the port --------------------------------------------------------------------------

    def launch(self, launch: TaskLaunch) -> None:
        with self._lock:
            if self._closed.is_set() or launch.task_arn in self._halted or launch.task_arn in self._jobs:
                return
            by_name = {c["name"]: c for c in launch.containers}
            try:
                job = LaunchJob(launch, spec.start_order(launch.containers), by_name)
            except ValueError as error:
                job = LaunchJob(
                    launch, list(by_name), by_name, phase="done", failure=f"CannotCreateContainerError: {error}"
                )
            self._jobs[launch.task_arn] = job
        self._submit(job)

    def stop(self, task_arn: str, timeout_s: float) -> None:
        self._in_background(task_arn, "stop", lambda: self._stop_task(task_arn, timeout_s))

    def remove(self, task_arn: str) -> None:
        self._in_background(task_arn, "remove", lambda: self._remove_task(task_arn))

    def observe(self) -> dict[str, ObservedTask]:
        try:
            summaries = self._api.containers(all=True, filters={"label": self._filter})
        except Exception as error:
            if engine_down(error):
                self._outage.failed(error)
                raise RuntimeUnavailable(str(error)) from None
            raise
        self._outage.answered()
        self._listed = (time.monotonic(), summaries)
        if self._plumbing is not None:
            summaries = self._plumbing.watch(summaries)
        grouped: dict[str, list[Record]] = {}
        for summary in summaries:
            labels = summary.get("Labels") or {}
            if spec.owned(labels, self.namespace) and labels.get(spec.TASK_ARN):
                grouped.setdefault(labels[spec.TASK_ARN], []).append(summary)
        self._facts.forget_all_but(s["Id"] for s in summaries)
        with self._lock:
            jobs, halted, hidden = dict(self._jobs), set(self._halted), set(self._hidden)
        # A finished launch whose containers are all gone is not reported (unless it failed):
        # the reconciler must see the task vanish.
        live = {arn for arn, job in jobs.items() if job.phase != "done" or job.failure}
        return {
            arn: observe_task(self._facts, arn, grouped.get(arn, []), jobs.get(arn), arn in halted)
            for arn in grouped.keys() | live
            if arn not in hidden
        }

    def subscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)
        self._events.start()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._callbacks.clear()
        self._events.close()
        self._steps.shutdown(wait=False, cancel_futures=True)
        if self._plumbing is not None:
            self._plumbing.close()
        if self._own_client:
            with contextlib.suppress(Exception):
                self._client.close()

    # --- what tasks use (the AWS/ECS metrics) -------------------------------------------------

    def usage(self, task_arns: list[str]) -> dict[str, TaskUsage]:
        """CPU seconds and memory of each task's running containers (``docker_usage``)."""
        listed_at, summaries = self._listed
        if time.monotonic() - listed_at > USAGE_LISTING_MAX_AGE_S:  # else observe's listing will do
            try:
                summaries = self._api.containers(all=True, filters={"label": self._filter})
            except Exception as error:
                if engine_down(error):
                    raise RuntimeUnavailable(str(error)) from None
                raise
            self._listed = (time.monotonic(), summaries)
        mine = [
            s
            for s in summaries
            if spec.owned(s.get("Labels") or {}, self.namespace)
            and (s.get("Labels") or {}).get(spec.ROLE) == "container"
            and spec.container_state(str(s.get("State", ""))) == "running"
        ]
        return task_usage(self._api, self._cgroups, mine, set(task_arns), spec.TASK_ARN)

    # --- the task environment's reads (metadata endpoint) ---------------------------------

    @property
    def _sandbox_always(self) -> bool:
        return self._plumbing is not None and self._plumbing.serves_endpoints

    def task_details(self, task_arn: str) -> dict[str, Record]:
        """Each of the task's containers as Docker inspects it (by ECS container name)."""
        if self._plumbing is None:
            return {}
        return self._plumbing.details(list(self._task_containers(task_arn).values()))

    def container_stats(self, task_arn: str, container_name: str) -> Record | None:
        """Docker's stats of one of the task's containers (one sample), None when it is gone."""
        summary = self._task_containers(task_arn).get(container_name)
        if summary is None or self._plumbing is None:
            return None
        return self._plumbing.stats(summary["Id"])

    # --- launch steps ----------------------------------------------------------------------

    def _submit(self, job: LaunchJob) -> None:
        with self._lock:
            if job.phase in ("queued", "done") or self._closed.is_set():
                return
            if job.phase == "running":
                job.rerun = True
                return
            job.phase = "queued"
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            self._steps.submit(self._step, job)

    def _step(self, job: LaunchJob) -> None:
        with self._lock:
            job.phase, job.rerun = "running", False
        delay: float | None = None
        try:
            if not self._is_halted(job.launch.task_arn):
                delay = self._advance(job)
        except _Halted:
            pass
        except _Relist:
            delay = 0.0
        except LaunchRefused as failure:
            job.failure, job.failed_container = failure.reason, failure.container
        except Exception as error:
            job.errors += 1
            if engine_down(error):
                self._outage.failed(error)
                log.debug("launching %s: the engine does not answer (attempt %d)", job.launch.task_arn, job.errors)
            else:
                log.warning(
                    "launching %s failed (attempt %d): %s", job.launch.task_arn, job.errors, error, exc_info=True
                )
            if job.errors >= MAX_STEP_ERRORS:
                job.failure = f"ResourceInitializationError: {error}"
            else:
                delay = 0.5 * job.errors
        with self._lock:
            rerun = job.rerun
            job.phase = "done" if delay is None else "idle"
        if delay is None:
            self._notify()
        elif rerun:
            self._submit(job)
        else:
            timer = threading.Timer(delay, self._submit, args=(job,))
            timer.daemon = True
            timer.start()

    def _advance(self, job: LaunchJob) -> float | None:
        """One step: None when the launch is over, else how soon to look again."""
        launch = job.launch
        existing = self._task_containers(launch.task_arn)
        missing = [name for name in job.order if name not in existing]
        if missing:
            if job.env is None:
                refused = spec.refusal(launch, self.allow_host_access)
                if refused:
                    raise LaunchRefused(refused, None)
                job.env = {c["name"]: self._environment(launch, c) for c in launch.containers}
            if job.images is None:
                wanted = {name: job.by_name[name]["image"] for name in job.order}
                job.images = sandboxes.ImageResolution(
                    self._images, wanted, self.pull_timeout_s, lambda: self._submit(job)
                )
            pulling = job.images.ready(missing)
            if pulling is not None:
                return pulling + 0.01  # or at once, when a pull ends
            sandboxes.create_task_volumes(self._api, launch, self.namespace)
        if sandboxes.needs_sandbox(launch, self._sandbox_always):
            self._ensure_sandbox(launch, existing.get(spec.SANDBOX_CONTAINER_NAME))
        for name in missing:
            existing[name] = self._create(job, name)
        if not self._start_ready(job, existing):
            return None
        job.polls += 1  # look less often the longer a dependency takes (events still wake it)
        return min(2.0, DEPENDENCY_POLL_S * (1 + job.polls // 20))

    def _task_containers(self, task_arn: str) -> dict[str, Record]:
        filters = {"label": [*self._filter, f"{spec.TASK_ARN}={task_arn}"]}
        summaries = self._api.containers(all=True, filters=filters)
        return {
            s["Labels"][spec.CONTAINER_NAME]: s
            for s in summaries
            if spec.owned(s["Labels"], self.namespace) and spec.CONTAINER_NAME in s["Labels"]
        }

    def _environment(self, launch: TaskLaunch, container: Record) -> dict[str, str]:
        hooks = self._plumbing.hooks if self._plumbing is not None else None
        return container_env.launch_environment(launch, container, self.region, hooks)

    def _ensure_sandbox(self, launch: TaskLaunch, sandbox: Record | None) -> None:
        state = spec.container_state(sandbox["State"]) if sandbox else None
        if state == "running":
            assert sandbox is not None
            if self._plumbing is not None and launch.network_mode != "none":
                self._plumbing.announce(launch.task_arn, sandbox["Id"])
            return
        if state == "exited":
            raise LaunchRefused("ResourceInitializationError: the task's network sandbox exited", None)
        joined = (
            self._networks.joined(launch.cluster) if launch.network_mode != "none" else contextlib.nullcontext(None)
        )
        with joined as network:
            if sandbox is None:
                image = sandboxes.ensure_sandbox_image(self._api, {spec.MANAGED: "true", spec.ROLE: "sandbox-image"})
                sandbox_spec = sandboxes.sandbox_spec(launch, image=image, network=network)
                sandbox_id = self._create_container(
                    launch.task_arn, spec.in_namespace(sandbox_spec, self.namespace), None
                )
            else:
                sandbox_id = sandbox["Id"]
            with self._unless_halted(launch.task_arn):
                try:
                    self._api.start(sandbox_id)
                except docker.errors.APIError as error:
                    raise LaunchRefused(f"CannotStartContainerError: {spec.daemon_message(error)}", None) from None
        if self._plumbing is not None and launch.network_mode != "none":
            self._plumbing.announce(launch.task_arn, sandbox_id)

    def _create(self, job: LaunchJob, name: str) -> Record:
        assert job.env is not None and job.images is not None
        ranks = spec.ranks(job.launch.containers)
        container_spec = spec.container_spec(
            job.launch,
            job.by_name[name],
            image=job.images.local[name],
            env=job.env[name],
            rank=ranks[name],
            host_cpus=self._cpus(),
        )
        launch = job.launch
        if launch.network_mode == "host" or sandboxes.needs_sandbox(launch, self._sandbox_always):
            container_id = self._create_container(
                launch.task_arn, spec.in_namespace(container_spec, self.namespace), name
            )
        elif launch.network_mode == "none":
            own = sandboxes.standalone(container_spec, launch, None)
            container_id = self._create_container(launch.task_arn, spec.in_namespace(own, self.namespace), name)
        else:
            with self._networks.joined(launch.cluster) as network:
                own = sandboxes.standalone(container_spec, launch, network)
                container_id = self._create_container(launch.task_arn, spec.in_namespace(own, self.namespace), name)
        return {"Id": container_id, "State": "created", "Status": "Created", "Labels": container_spec.config["labels"]}

    def _create_container(self, task_arn: str, container_spec: spec.ContainerSpec, culprit: str | None) -> str:
        with self._unless_halted(task_arn):
            try:
                host_config = self._api.create_host_config(**container_spec.host_config)
                return str(
                    self._api.create_container(
                        name=container_spec.name, host_config=host_config, **container_spec.config
                    )["Id"]
                )
            except docker.errors.APIError as error:
                if error.status_code != 409:
                    raise LaunchRefused(
                        f"CannotCreateContainerError: {spec.daemon_message(error)}", culprit
                    ) from None
            # 409: the name is taken. This task's own container is adopted by listing again.
            labels = self._api.inspect_container(container_spec.name)["Config"].get("Labels") or {}
            if spec.owned(labels, self.namespace) and labels.get(spec.TASK_ARN) == task_arn:
                raise _Relist
            raise LaunchRefused(
                f"CannotCreateContainerError: the name {container_spec.name} is taken by another task", culprit
            )

    def _start_ready(self, job: LaunchJob, existing: dict[str, Record]) -> bool:
        """Start every created container whose dependencies hold; True while some wait."""
        waiting = False
        for name in job.order:
            info = existing.get(name)
            if info is None or name in job.blocked or spec.container_state(info["State"]) != "created":
                continue
            verdict, reason = self._dependencies(job, name, existing)
            if verdict == "fail":
                self._block(job, name, reason)
            if verdict != "ok":
                waiting = waiting or verdict == "wait"
                continue
            with self._unless_halted(job.launch.task_arn):
                try:
                    self._api.start(info["Id"])
                except docker.errors.APIError as error:
                    self._block(job, name, f"CannotStartContainerError: {spec.daemon_message(error)}")
                    continue
            job.started[name] = time.time()
            existing[name] = {**info, "State": "running", "Status": "Up"}
            self._facts.warm(info["Id"])
        return waiting

    def _block(self, job: LaunchJob, name: str, reason: str) -> None:
        """An essential container that cannot start fails the task; another just never starts."""
        if job.by_name[name].get("essential", True):
            raise LaunchRefused(reason, name)
        job.blocked[name] = reason

    def _dependencies(self, job: LaunchJob, name: str, existing: dict[str, Record]) -> tuple[spec.Verdict, str]:
        verdict: spec.Verdict = "ok"
        for dependency in job.by_name[name].get("dependsOn") or []:
            other, condition = dependency["containerName"], dependency["condition"]
            info = existing.get(other)
            if other in job.blocked:
                return "fail", spec.dependency_failure(other, name, condition, None)
            state = spec.container_state(info["State"]) if info else None
            status = str(info.get("Status", "")) if info else ""
            exit_code = spec.exit_code_from_status(status)
            answer = spec.dependency_verdict(condition, state, exit_code, spec.health_from_status(status))
            if answer == "fail":
                return "fail", spec.dependency_failure(other, name, condition, exit_code)
            if answer == "wait":
                verdict = "wait"
                # ECS: a dependency's startTimeout bounds COMPLETE, SUCCESS and HEALTHY waits.
                timeout = job.by_name[other].get("startTimeout")
                started = job.started.get(other) or (
                    self._facts.inspect(info["Id"]).started_at if info and state == "running" else None
                )
                if timeout and condition != "START" and started and time.time() > started + float(timeout):
                    return "fail", spec.dependency_failure(other, name, "TIMEOUT", None)
        return verdict, ""

    def _task_lock(self, task_arn: str) -> threading.Lock:
        with self._lock:
            return self._task_locks.setdefault(task_arn, threading.Lock())

    @contextlib.contextmanager
    def _unless_halted(self, task_arn: str) -> Iterator[None]:
        with self._task_lock(task_arn):
            if self._is_halted(task_arn):
                raise _Halted
            yield

    def _is_halted(self, task_arn: str) -> bool:
        with self._lock:
            return task_arn in self._halted or self._closed.is_set()

    def _cpus(self) -> int:
        if self._host_cpus is None:
            self._host_cpus = int(self._api.info().get("NCPU") or os.cpu_count() or 1)
        return self._host_cpus

    # --- stop and remove -------------------------------------------------------------------

    def _in_background(self, task_arn: str, what: str, work: Callable[[], None]) -> None:
        """Halt the task; run ``work`` unless the same work is in flight. Stops wait out grace
        periods, so each gets its own daemon thread rather than a launch worker."""
        with self._lock:
            if self._closed.is_set():
                return
            self._halted.add(task_arn)
            if (what, task_arn) in self._busy:
                return
            self._busy.add((what, task_arn))
        threading.Thread(target=self._run_busy, args=(task_arn, what, work), name=f"ecsemu-{what}", daemon=True).start()

    def _run_busy(self, task_arn: str, what: str, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception as error:
            if engine_down(error):
                self._outage.failed(error)
                log.debug("%s of %s: the engine does not answer; the reconciler will ask again", what, task_arn)
            else:
                log.warning("%s of %s failed; the reconciler will ask again", what, task_arn, exc_info=True)
        finally:
            with self._lock:
                self._busy.discard((what, task_arn))
            self._notify()

    def _halted_containers(self, task_arn: str) -> list[Record]:
        """The task's containers, listed once no create or start of it can be in flight."""
        with self._task_lock(task_arn):
            return list(self._task_containers(task_arn).values())

    def _stop_task(self, task_arn: str, timeout_s: float) -> None:
        """Dependents first (highest rank), each rank in parallel; the sandbox last, killed."""
        containers = self._halted_containers(task_arn)
        running = [
            c
            for c in containers
            if c["Labels"].get(spec.ROLE) == "container" and spec.container_state(c["State"]) == "running"
        ]
        for rank in sorted({int(c["Labels"].get(spec.RANK, 0)) for c in running}, reverse=True):
            group = [c for c in running if int(c["Labels"].get(spec.RANK, 0)) == rank]
            threads = [threading.Thread(target=self._stop_container, args=(c, timeout_s), daemon=True) for c in group]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for sandbox in containers:
            if sandbox["Labels"].get(spec.ROLE) == "sandbox" and spec.container_state(sandbox["State"]) == "running":
                self._kill(sandbox["Id"])

    def _stop_container(self, summary: Record, timeout_s: float) -> None:
        """Docker's stop: the image's stop signal (SIGTERM by default), SIGKILL after the grace."""
        try:
            self._api.stop(summary["Id"], timeout=spec.stop_seconds(summary["Labels"], timeout_s))
        except docker.errors.APIError as error:
            log.debug("stopping %s: %s", summary["Id"][:12], spec.daemon_message(error))

    def _kill(self, container_id: str) -> None:
        try:
            self._api.kill(container_id, signal="SIGKILL")
        except docker.errors.APIError as error:  # gone, or not running any more
            log.debug("killing %s: %s", container_id[:12], spec.daemon_message(error))

    def _remove_task(self, task_arn: str) -> None:
        if self._plumbing is not None:
            self._plumbing.withdraw(task_arn)
        containers = self._halted_containers(task_arn)
        clusters = {c["Labels"].get(spec.CLUSTER, "") for c in containers}
        if self.keep_stopped:
            for container in containers:
                if spec.container_state(container["State"]) == "running":
                    self._kill(container["Id"])
        else:
            # The sandbox last: the others live in its network namespace.
            for container in sorted(containers, key=lambda c: c["Labels"].get(spec.ROLE) == "sandbox"):
                try:
                    self._api.remove_container(container["Id"], force=True, v=True)
                except docker.errors.APIError as error:  # gone, or being removed already
                    log.debug("removing %s: %s", container["Id"][:12], spec.daemon_message(error))
            sandboxes.remove_task_volumes(self._api, task_arn, self.namespace)
        with self._lock:
            job = self._jobs.pop(task_arn, None)
            self._task_locks.pop(task_arn, None)
            if self.keep_stopped:
                self._hidden.add(task_arn)
        if job is not None:
            clusters.add(job.launch.cluster)
        if not self.keep_stopped:
            for cluster in clusters - {""}:
                self._networks.remove_if_unused(cluster)

    # --- events (docker_events.EngineEvents follows them) ----------------------------------

    def _on_event(self, event: Record) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {}  # a container's events carry its labels
        if not spec.owned(attributes, self.namespace):
            return
        container_id = str(actor.get("ID") or event.get("id") or "")
        if action in ("start", "die", "oom"):
            self._facts.warm(container_id)  # so the observe this wakes finds the details cached
        elif action == "destroy":
            self._facts.forget(container_id)
        arn = attributes.get(spec.TASK_ARN)
        with self._lock:
            job = self._jobs.get(arn) if arn and action != "create" else None
        if job is not None:
            self._submit(job)  # a dependency may hold now
        self._notify()

    def _notify(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("runtime callback failed")
