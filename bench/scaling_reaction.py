"""Reaction time of target tracking under the compressed clock: from the moment load starts to
the moment the service's desiredCount is raised.

It builds an Emulator in this process (``--runtime simulated``, ephemeral, ``--scaling-clock``
60 by default, so one AWS minute passes each real second), creates a service of 2 tasks, registers
it as a scalable target (min 1, max 10) and puts a target tracking policy on
``ECSServiceAverageCPUUtilization`` at 50 % (``ScaleOutCooldown`` 0, scale-in disabled, so the
trials do not wait on each other). Each of ``--trials`` (10) trials:

1. brings the service back to 2 tasks at 0 % CPU and waits until the policy's high alarm is OK;
2. waits a random 0-1 real s (so ``t0`` falls anywhere in a 60 s AWS period);
3. at ``t0`` sets both tasks' CPU to 90 % through ``POST /_ecsemu/simulated/utilization``;
4. polls ``DescribeServices`` every 10 ms until desiredCount exceeds 2 (``t1``).

It prints each trial's reaction ``t1 - t0`` in real seconds, where ``t0`` fell in its AWS period,
and the **floor** for that phase: the earliest a 3-of-3 alarm on 60 s periods can fire. Then
p50/max against the goal.

**The floor.** The high alarm of a target tracking policy needs 3 of 3 datapoints (Period 60,
Average) above the target, and CloudWatch evaluates a period only once it is over. The period
in which the load starts is a mix: the collector samples every 10 AWS s (6 samples a period),
so its Average (k x 90 / 6 for k loaded samples) exceeds 50 only when at least 4 of its 6
samples read 90, i.e. when the load started in about its first half (``f`` <= 0.5, ``f`` the
phase of ``t0`` in its period; between 1/3 and 1/2 it depends on where the samples fall).
So the alarm can fire, at the earliest, at the end of the third breaching period:
``(3 - f)`` periods after ``t0`` when the mixed period breaches, else ``(4 - f)`` — between 2.5
and 3.5 periods, about 3 on average. Under ``--scaling-clock 60`` a period is 1 real s, so the
floor is 2.5-3.5 real s. "One evaluation period + 1 s" read as one 60 s Period (1 real s +
1 s = 2 s) is below that floor: no correct 3-of-3 alarm reaches it, on AWS or here. Read as the
alarm's evaluation window (EvaluationPeriods x Period = 3 real s) + 1 s = 4 s, it is reachable;
the script prints both verdicts.
The overhead column (reaction less floor) is what the scaling loop adds: up to one tick
(``min(1, 10 / factor)`` real s = 1/6 s at 60x) before a finished period is evaluated, plus
the poll.

    python bench/scaling_reaction.py                 # about 1 min
    python bench/scaling_reaction.py --trials 20 --scaling-clock 120
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import poll

from ecsemu.app import Emulator
from ecsemu.config import Config

CLUSTER = "bench-scaling"
SERVICE = "web"
PERIOD_AWS_S = 60.0
SAMPLE_AWS_S = 10.0
BASE = 2
LOAD = 90.0
TARGET = 50.0


def set_cpu(endpoint: str, task_arn: str, cpu: float) -> None:
    request = urllib.request.Request(
        f"{endpoint}/_ecsemu/simulated/utilization",
        data=json.dumps({"taskArn": task_arn, "cpu": cpu}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def floor_periods(phase: float) -> float:
    """Earliest alarm, in periods after t0, for a t0 at ``phase`` (0..1) of its period."""
    samples = PERIOD_AWS_S / SAMPLE_AWS_S  # samples of one period
    loaded = math.ceil((1 - phase) * samples - 1e-9)  # at most this many of them under load
    mixed_breaches = loaded * LOAD / samples > TARGET
    return (3 - phase) if mixed_breaches else (4 - phase)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--scaling-clock", type=float, default=60.0)
    args = parser.parse_args()
    if not 1 <= args.trials <= 100 or not 10 <= args.scaling_clock <= 3600:
        parser.error("--trials 1..100, --scaling-clock 10..3600")
    logging.basicConfig(level=logging.WARNING)
    emulator = Emulator.build(
        Config(port=0, ephemeral=True, runtime="simulated", scaling_clock=args.scaling_clock, quiet=True)
    )
    emulator.start()
    assert emulator.scaling is not None
    clock = emulator.scaling.clock
    endpoint = emulator.endpoint
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    ecs = session.client("ecs", endpoint_url=endpoint)
    aas = session.client("application-autoscaling", endpoint_url=endpoint)
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)
    period_real = clock.real_seconds(PERIOD_AWS_S)
    results: list[tuple[float, float, float]] = []  # (phase, reaction s, floor s)
    try:
        ecs.create_cluster(clusterName=CLUSTER)
        ecs.register_task_definition(
            family="bench-scaling",
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "web", "image": "busybox", "essential": True}],
        )
        ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition="bench-scaling", desiredCount=BASE)
        resource = f"service/{CLUSTER}/{SERVICE}"
        aas.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=1,
            MaxCapacity=10,
        )
        aas.put_scaling_policy(
            PolicyName="cpu50",
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension="ecs:service:DesiredCount",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": TARGET,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                "ScaleOutCooldown": 0,
                "DisableScaleIn": True,
            },
        )
        high = next(
            a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"] if "-AlarmHigh-" in a["AlarmName"]
        )

        def service() -> dict[str, Any]:
            return dict(ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0])

        def running() -> list[str]:
            return list(ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="RUNNING")["taskArns"])

        def high_ok() -> bool:
            return cloudwatch.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]["StateValue"] == "OK"

        for trial in range(args.trials):
            if service()["desiredCount"] != BASE:
                ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=BASE)
            poll(lambda: service()["runningCount"] == BASE and len(running()) == BASE, "the base tasks", 0.05, 120)
            tasks = running()
            for arn in tasks:
                set_cpu(endpoint, arn, 0.0)
            poll(high_ok, "the high alarm to be OK", 0.05, 120)
            time.sleep(random.random() * period_real)
            t0 = time.monotonic()
            phase = (clock.now() % PERIOD_AWS_S) / PERIOD_AWS_S
            for arn in tasks:
                set_cpu(endpoint, arn, LOAD)
            poll(lambda: service()["desiredCount"] > BASE, "desiredCount to rise", 0.01, 120)
            reaction = time.monotonic() - t0
            floor = floor_periods(phase) * period_real
            results.append((phase, reaction, floor))
            print(
                f"trial {trial + 1:>2}: t0 at {phase:4.2f} of its period, desiredCount raised after {reaction:5.2f} s"
                f" (floor {floor:4.2f} s, overhead {reaction - floor:+5.2f} s)",
                file=sys.stderr,
            )
    finally:
        emulator.shutdown()
    reactions = [r for _, r, _ in results]
    overheads = [r - f for _, r, f in results]
    window = 3 * period_real
    p50, worst = statistics.median(reactions), max(reactions)
    print(
        f"Scaling reaction, simulated runtime, --scaling-clock {args.scaling_clock:g} "
        f"(a 60 s period = {period_real:.3g} real s), {len(results)} trials"
    )
    print(
        f"reaction p50 {p50:.2f} s, max {worst:.2f} s; overhead over the floor p50 "
        f"{statistics.median(overheads):+.2f} s, max {max(overheads):+.2f} s"
    )
    print(
        f"floor: the high alarm needs 3 of 3 periods above {TARGET:g} %, each evaluated once over: "
        f"{2.5 * period_real:.2f}-{3.5 * period_real:.2f} s after t0 (mean ~{3 * period_real:.1f} s)"
    )
    for label, goal in (
        ("one Period + 1 s", period_real + 1.0),
        ("the alarm's window (3 Periods) + 1 s", window + 1.0),
    ):
        verdict = "PASS" if worst <= goal else "MISS"
        print(f"goal {label} = {goal:.2f} s: max/goal {worst / goal:.2f}x, p50/goal {p50 / goal:.2f}x ({verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
