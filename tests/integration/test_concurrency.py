"""Concurrent clients: 32 threads mixing writes and reads for a bounded time get no 5xx, and
every answer is well-formed.

The writes (CreateCluster, RegisterTaskDefinition, CreateService, UpdateService,
DeleteService, RunTask) and the reads (DescribeClusters with every include, DescribeServices,
ListTasks) run against the in-process emulator while its reconciler moves the tasks. Each read
answers from one consistent snapshot: a cluster's counts agree with its statistics.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from conftest import client

THREADS = 32
DURATION_S = 8.0
CLUSTERS = ("c0", "c1", "c2")
INCLUDE = ["ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS"]
# Refusals a racing client may fairly get (a service deleted or created by another thread).
EXPECTED = frozenset(
    {"ServiceNotFoundException", "ServiceNotActiveException", "InvalidParameterException", "ClusterNotFoundException"}
)


def _check_cluster(cluster: dict[str, Any]) -> None:
    assert cluster["status"] in ("ACTIVE", "INACTIVE"), cluster
    for count in ("runningTasksCount", "pendingTasksCount", "activeServicesCount", "registeredContainerInstancesCount"):
        assert isinstance(cluster[count], int) and cluster[count] >= 0, cluster
    statistics = {item["name"]: int(item["value"]) for item in cluster["statistics"]}
    if statistics:
        # One snapshot: the counts are the sums of the statistics read with them.
        running = sum(v for k, v in statistics.items() if k.startswith("running"))
        pending = sum(v for k, v in statistics.items() if k.startswith("pending"))
        active = sum(v for k, v in statistics.items() if k.startswith("active"))
        assert (running, pending, active) == (
            cluster["runningTasksCount"],
            cluster["pendingTasksCount"],
            cluster["activeServicesCount"],
        ), cluster


class Worker:
    def __init__(self, endpoint: str, index: int, failures: list[str]) -> None:
        self.ecs = client("ecs", endpoint, config=BotoConfig(retries={"max_attempts": 1}, max_pool_connections=2))
        self.random = random.Random(index)
        self.index = index
        self.failures = failures
        self.calls = 0

    def cluster(self) -> str:
        return self.random.choice(CLUSTERS)

    def service(self) -> str:
        return f"s{self.random.randrange(6)}"

    def step(self) -> None:
        action: Callable[[], None] = self.random.choice(
            [
                self.create_cluster,
                self.register,
                self.create_service,
                self.update_service,
                self.delete_service,
                self.run_task,
                self.describe_clusters,
                self.describe_clusters,
                self.describe_clusters,
                self.describe_services,
                self.list_tasks,
            ]
        )
        try:
            action()
        except ClientError as error:
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            code = error.response["Error"]["Code"]
            if status >= 500 or code not in EXPECTED:
                self.failures.append(f"{action.__name__}: {status} {code} {error.response['Error'].get('Message')}")
        except Exception as error:  # a malformed answer botocore could not parse, a failed check
            self.failures.append(f"{action.__name__}: {type(error).__name__}: {error}")
        self.calls += 1

    def create_cluster(self) -> None:
        name = self.cluster()
        answer = self.ecs.create_cluster(clusterName=name)
        assert answer["cluster"]["clusterName"] == name
        _check_cluster(answer["cluster"])

    def register(self) -> None:
        answer = self.ecs.register_task_definition(
            family="web", containerDefinitions=[{"name": "app", "image": f"nginx:{self.index}", "memory": 64}]
        )
        assert answer["taskDefinition"]["family"] == "web"

    def create_service(self) -> None:
        cluster, name = self.cluster(), self.service()
        try:
            answer = self.ecs.create_service(cluster=cluster, serviceName=name, taskDefinition="web", desiredCount=1)
        except ClientError as error:
            if "Creation of service was not idempotent" in str(error):
                return
            raise
        assert answer["service"]["serviceName"] == name

    def update_service(self) -> None:
        cluster, name = self.cluster(), self.service()
        answer = self.ecs.update_service(cluster=cluster, service=name, desiredCount=self.random.randrange(3))
        assert answer["service"]["serviceName"] == name

    def delete_service(self) -> None:
        answer = self.ecs.delete_service(cluster=self.cluster(), service=self.service(), force=True)
        assert answer["service"]["status"] in ("DRAINING", "INACTIVE")

    def run_task(self) -> None:
        answer = self.ecs.run_task(cluster=self.cluster(), taskDefinition="web")
        assert len(answer["tasks"]) + len(answer["failures"]) == 1, answer

    def describe_clusters(self) -> None:
        answer = self.ecs.describe_clusters(clusters=list(CLUSTERS), include=INCLUDE)
        assert len(answer["clusters"]) + len(answer["failures"]) == len(CLUSTERS), answer
        for cluster in answer["clusters"]:
            _check_cluster(cluster)

    def describe_services(self) -> None:
        names = [f"s{i}" for i in range(6)]
        answer = self.ecs.describe_services(cluster=self.cluster(), services=names)
        assert len(answer["services"]) + len(answer["failures"]) == len(names), answer
        for service in answer["services"]:
            assert service["desiredCount"] >= 0 and service["runningCount"] >= 0, service

    def list_tasks(self) -> None:
        answer = self.ecs.list_tasks(cluster=self.cluster())
        assert isinstance(answer["taskArns"], list)


def test_32_clients_mixing_writes_and_reads_get_no_5xx(endpoint: str) -> None:
    setup = client("ecs", endpoint)
    for name in CLUSTERS:
        setup.create_cluster(clusterName=name)
    setup.register_task_definition(family="web", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 64}])
    failures: list[str] = []
    workers = [Worker(endpoint, index, failures) for index in range(THREADS)]
    deadline = time.monotonic() + DURATION_S
    start = threading.Barrier(THREADS)

    def run(worker: Worker) -> None:
        start.wait()
        while time.monotonic() < deadline and len(failures) < 50:
            worker.step()

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DURATION_S + 60)
    assert not any(thread.is_alive() for thread in threads)
    calls = sum(worker.calls for worker in workers)
    assert calls > THREADS * 4, f"only {calls} calls were made"
    assert failures == [], f"{len(failures)} of {calls} calls failed: {failures[:10]}"
