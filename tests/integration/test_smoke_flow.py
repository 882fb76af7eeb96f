"""The issue's "done when" walk, with boto3: cluster, two revisions, a service of 3, a one-off
task, scale to 1, delete."""

from __future__ import annotations

from typing import Any

WAIT = {"Delay": 1, "MaxAttempts": 30}


def test_new_user_walk(ecs: Any) -> None:
    ecs.create_cluster(clusterName="demo")
    definition = {
        "family": "web",
        "containerDefinitions": [{"name": "app", "image": "nginx:latest", "memory": 128, "portMappings": [{"containerPort": 80}]}],
    }
    assert ecs.register_task_definition(**definition)["taskDefinition"]["revision"] == 1
    assert ecs.register_task_definition(**definition)["taskDefinition"]["revision"] == 2

    ecs.create_service(cluster="demo", serviceName="web", taskDefinition="web:1", desiredCount=3)
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"], WaiterConfig=WAIT)
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert service["runningCount"] == 3
    assert service["events"][0]["message"] == "(service web) has reached a steady state."

    task_arn = ecs.run_task(cluster="demo", taskDefinition="web")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(cluster="demo", tasks=[task_arn], WaiterConfig=WAIT)
    ecs.stop_task(cluster="demo", task=task_arn)
    ecs.get_waiter("tasks_stopped").wait(cluster="demo", tasks=[task_arn], WaiterConfig=WAIT)
    task = ecs.describe_tasks(cluster="demo", tasks=[task_arn])["tasks"][0]
    assert (task["stopCode"], task["stoppedReason"]) == ("UserInitiated", "Task stopped by user")

    ecs.update_service(cluster="demo", service="web", desiredCount=1)
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"], WaiterConfig=WAIT)
    assert len(ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"]) == 1

    ecs.update_service(cluster="demo", service="web", desiredCount=0)
    ecs.delete_service(cluster="demo", service="web")
    ecs.get_waiter("services_inactive").wait(cluster="demo", services=["web"], WaiterConfig=WAIT)
