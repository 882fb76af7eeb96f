"""Service deployments and revisions through boto3: the history a service's deployments leave
(ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions) and
StopServiceDeployment, which only records the request for the scheduler to act on."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from api_state import refused
from conftest import wait_until

from ecsemu.app import Emulator

ACCOUNT, REGION = "123456789012", "us-east-1"
APP = {"name": "app", "image": "nginx:1", "memory": 128}
DEPLOYMENT_ARN = re.compile(rf"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/prod/web/[A-Za-z0-9_-]{{22}}")
REVISION_ARN = re.compile(rf"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/prod/web/(\d{{19}})")
# desiredCount 1 at 100 %/100 % can neither start a new task nor stop the old one: it stays IN_PROGRESS.
STUCK = {"maximumPercent": 100, "minimumHealthyPercent": 100}
ROLLING = {"maximumPercent": 200, "minimumHealthyPercent": 100}


@pytest.fixture
def prod(ecs: Any) -> Any:
    """A cluster "prod" with task definitions web:1, web:2 and web:3 (images nginx:1..3)."""
    ecs.create_cluster(clusterName="prod")
    for number in (1, 2, 3):
        ecs.register_task_definition(family="web", containerDefinitions=[{**APP, "image": f"nginx:{number}"}])
    return ecs


def deployments(ecs: Any, **kwargs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ecs.list_service_deployments(cluster="prod", service="web", **kwargs)[
        "serviceDeployments"
    ]
    return found


def statuses(ecs: Any) -> list[str]:
    return [d["status"] for d in deployments(ecs)]


def steady(ecs: Any) -> None:
    def check() -> bool:
        service = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
        return len(service["deployments"]) == 1 and service["deployments"][0]["rolloutState"] == "COMPLETED"

    wait_until(check, what="service web to reach a steady state")


def stuck_service(ecs: Any) -> None:
    """web: deployment 1 (web:1) SUCCESSFUL, deployment 2 (web:2) IN_PROGRESS for good."""
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=1)
    steady(ecs)
    ecs.update_service(cluster="prod", service="web", taskDefinition="web:2", deploymentConfiguration=STUCK)
    wait_until(lambda: statuses(ecs) == ["IN_PROGRESS", "SUCCESSFUL"], what="deployment 2 to be under way")


def test_history_of_a_service_updated_twice(prod: Any) -> None:
    stuck_service(prod)
    prod.update_service(cluster="prod", service="web", taskDefinition="web:3", deploymentConfiguration=ROLLING)
    steady(prod)
    wait_until(lambda: statuses(prod) == ["SUCCESSFUL", "STOPPED", "SUCCESSFUL"], what="the third deployment to finish")

    listed = deployments(prod)  # newest first
    service = prod.describe_services(cluster="prod", services=["web"])["services"][0]
    for item in listed:
        assert DEPLOYMENT_ARN.fullmatch(item["serviceDeploymentArn"]), item
        assert REVISION_ARN.fullmatch(item["targetServiceRevisionArn"]), item
        assert (item["serviceArn"], item["clusterArn"]) == (service["serviceArn"], service["clusterArn"])
        assert item["startedAt"] == item["createdAt"] and "finishedAt" in item
    assert [i["createdAt"] for i in listed] == sorted((i["createdAt"] for i in listed), reverse=True)
    assert listed[1]["statusReason"].endswith("stopped: a newer deployment started.")
    # The newest revision is the service's one deployment (same 19 digits).
    newest_id = REVISION_ARN.fullmatch(listed[0]["targetServiceRevisionArn"]).group(1)  # type: ignore[union-attr]
    assert service["deployments"][0]["id"] == f"ecs-svc/{newest_id}"

    described = prod.describe_service_deployments(serviceDeploymentArns=[i["serviceDeploymentArn"] for i in listed])
    assert described["failures"] == []
    newest, stopped, first = described["serviceDeployments"]
    assert newest["status"] == "SUCCESSFUL" and newest["targetServiceRevision"] == {
        "arn": listed[0]["targetServiceRevisionArn"], "requestedTaskCount": 1, "runningTaskCount": 1, "pendingTaskCount": 0,
    }  # fmt: skip
    assert [s["arn"] for s in newest["sourceServiceRevisions"]] == [listed[1]["targetServiceRevisionArn"]]
    assert newest["deploymentCircuitBreaker"] == {"status": "DISABLED", "failureCount": 0, "threshold": 3}
    assert newest["alarms"] == {"status": "DISABLED"}
    assert newest["deploymentConfiguration"]["maximumPercent"] == 200
    assert stopped["status"] == "STOPPED" and stopped["stoppedAt"] == newest["createdAt"]
    assert first["status"] == "SUCCESSFUL" and first["sourceServiceRevisions"] == []
    assert "rollback" not in stopped and "stoppedAt" not in first

    revisions = prod.describe_service_revisions(serviceRevisionArns=[i["targetServiceRevisionArn"] for i in listed])
    assert revisions["failures"] == []
    assert [(r["taskDefinition"].rsplit("/", 1)[1], r["containerImages"]) for r in revisions["serviceRevisions"]] == [
        (f"web:{n}", [{"containerName": "app", "image": f"nginx:{n}"}]) for n in (3, 2, 1)
    ]
    for item, revision in zip(listed, revisions["serviceRevisions"], strict=True):
        assert revision["serviceRevisionArn"] == item["targetServiceRevisionArn"]
        assert (revision["launchType"], revision["serviceArn"]) == ("EC2", service["serviceArn"])
        assert revision["createdAt"] == item["createdAt"]


def test_list_filters_and_pages(prod: Any) -> None:
    stuck_service(prod)
    first, second = deployments(prod)[::-1]
    assert [d["status"] for d in deployments(prod, status=["SUCCESSFUL"])] == ["SUCCESSFUL"]
    assert deployments(prod, status=["STOPPED", "ROLLBACK_FAILED"]) == []
    # Clients send whole seconds, so the bounds stay well clear of both deployments.
    hour_ago, in_an_hour = first["createdAt"] - timedelta(hours=1), second["createdAt"] + timedelta(hours=1)
    assert deployments(prod, createdAt={"after": hour_ago, "before": in_an_hour}) == [second, first]
    assert deployments(prod, createdAt={"before": hour_ago}) == []
    assert deployments(prod, createdAt={"after": in_an_hour}) == []

    page = prod.list_service_deployments(cluster="prod", service="web", maxResults=1)
    assert page["serviceDeployments"] == [second]
    rest = prod.list_service_deployments(cluster="prod", service="web", maxResults=1, nextToken=page["nextToken"])
    assert rest["serviceDeployments"] == [first] and "nextToken" not in rest
    by_arn = prod.list_service_deployments(cluster=first["clusterArn"], service=first["serviceArn"])
    assert by_arn["serviceDeployments"] == [second, first]


def test_list_errors(prod: Any, emulator: Emulator) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=0)
    with refused(emulator, "ServiceNotFoundException"):
        prod.list_service_deployments(cluster="prod", service="nope")
    with refused(emulator, "ClusterNotFoundException"):
        prod.list_service_deployments(cluster="nope", service="web")
    with refused(emulator, "InvalidParameterException"):
        prod.list_service_deployments(cluster="prod", service="web", maxResults=101)
    with refused(emulator, "InvalidParameterException"):
        prod.list_service_deployments(cluster="prod", service="web", nextToken="garbage")


def test_unknown_arns_are_missing(prod: Any) -> None:
    prod.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=0)
    listed = deployments(prod)[0]
    unknown_deployment = listed["serviceDeploymentArn"][:-22] + "A" * 22
    other_region = listed["serviceDeploymentArn"].replace(REGION, "eu-west-1")
    answer = prod.describe_service_deployments(
        serviceDeploymentArns=[listed["serviceDeploymentArn"], unknown_deployment, other_region, "x"]
    )
    assert [d["serviceDeploymentArn"] for d in answer["serviceDeployments"]] == [listed["serviceDeploymentArn"]]
    assert answer["failures"] == [{"arn": a, "reason": "MISSING"} for a in (unknown_deployment, other_region, "x")]

    unknown_revision = listed["targetServiceRevisionArn"][:-19] + "1" * 19
    revisions = prod.describe_service_revisions(
        serviceRevisionArns=[unknown_revision, listed["targetServiceRevisionArn"]]
    )
    assert [r["serviceRevisionArn"] for r in revisions["serviceRevisions"]] == [listed["targetServiceRevisionArn"]]
    assert revisions["failures"] == [{"arn": unknown_revision, "reason": "MISSING"}]

    prod.delete_service(cluster="prod", service="web")
    wait_until(
        lambda: prod.describe_service_deployments(serviceDeploymentArns=[listed["serviceDeploymentArn"]])["failures"],
        what="a deleted service's deployments to go",
    )


def test_describe_limits(prod: Any, emulator: Emulator) -> None:
    with refused(emulator, "InvalidParameterException"):
        prod.describe_service_deployments(serviceDeploymentArns=[])
    with refused(emulator, "InvalidParameterException"):
        prod.describe_service_revisions(serviceRevisionArns=[f"arn:{n}" for n in range(21)])


def test_stop_is_refused_unless_the_deployment_is_in_progress(prod: Any, emulator: Emulator) -> None:
    stuck_service(prod)
    _, first = deployments(prod)
    with refused(emulator, "ConflictException"):
        prod.stop_service_deployment(serviceDeploymentArn=first["serviceDeploymentArn"])
    missing = first["serviceDeploymentArn"][:-22] + "A" * 22
    with refused(emulator, "ServiceDeploymentNotFoundException"):
        prod.stop_service_deployment(serviceDeploymentArn=missing)
    with refused(emulator, "InvalidParameterException"):
        prod.stop_service_deployment(serviceDeploymentArn="not-an-arn")
    with refused(emulator, "InvalidParameterException"):
        prod.stop_service_deployment(
            serviceDeploymentArn=deployments(prod)[0]["serviceDeploymentArn"], stopType="ABORT"
        )


def test_stop_records_a_rollback_request(prod: Any, emulator: Emulator) -> None:
    stuck_service(prod)
    in_progress, _ = deployments(prod)
    arn = in_progress["serviceDeploymentArn"]
    assert prod.stop_service_deployment(serviceDeploymentArn=arn)["serviceDeploymentArn"] == arn
    (described,) = prod.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    # Before the scheduler acts it is ROLLBACK_REQUESTED; it may already have acted.
    assert described["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"), described
    service = emulator.store.get(emulator.store.scopes()[0], "service", "prod/web")
    assert service is not None
    assert service["spec"]["deployments"][1]["stopRequested"]["stopType"] == "ROLLBACK"
    assert "stopRequested" not in service["spec"]["deployments"][0]
    # Asking again while the rollback goes on is answered and changes nothing.
    before = service["spec"]
    assert prod.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")["serviceDeploymentArn"] == arn
    after = emulator.store.get(emulator.store.scopes()[0], "service", "prod/web")
    assert after is not None and after["spec"]["deployments"][:2] == before["deployments"][:2]


def test_stopped_deployment_is_rolled_back_by_the_scheduler(prod: Any) -> None:
    stuck_service(prod)
    in_progress, first = deployments(prod)
    prod.stop_service_deployment(serviceDeploymentArn=in_progress["serviceDeploymentArn"])
    # 100 %/100 % would hold the rollback too: give it room, as a user would.
    prod.update_service(cluster="prod", service="web", deploymentConfiguration=ROLLING)

    def rolled_back() -> dict[str, Any] | None:
        (found,) = prod.describe_service_deployments(serviceDeploymentArns=[in_progress["serviceDeploymentArn"]])[
            "serviceDeployments"
        ]
        return found if found["status"] == "ROLLBACK_SUCCESSFUL" else None

    described = wait_until(rolled_back, timeout=10, what="the rollback to finish")
    revision_arn = described["rollback"]["serviceRevisionArn"]
    (revision,) = prod.describe_service_revisions(serviceRevisionArns=[revision_arn])["serviceRevisions"]
    assert revision["taskDefinition"].endswith(":1")
    assert [d["status"] for d in deployments(prod)] == ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]
    assert first["status"] == "SUCCESSFUL"
