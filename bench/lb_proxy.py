"""Load balancer proxy throughput: ecsemu's HTTP listener against nginx and MiniStack's ALB, same
backends, same run.

Run by hand from the repository root::

    python bench/lb_proxy.py [--seconds 10] [--threads 4] [--connections 32] [--json]
    python bench/lb_proxy.py --ministack-python /path/to/venv/bin/python   # a venv with `pip install ministack`
    python bench/lb_proxy.py --asyncio     # also ecsemu's engine on asyncio's own loop (reference)

Needs ``wrk`` and ``nginx`` (Debian: ``apt-get install wrk nginx-light``).

What it does
------------
1. Starts two backends: small asyncio HTTP/1.1 servers in processes of their own (this file
   with ``--backend``), each answering every request with a fixed 200 and keep-alive.
2. Starts the proxies: ecsemu's engine as users get it (this file with ``--serve-engine``, its
   own process, uvloop when installed, llhttp parsing, round robin over both backends, health
   checks on); with ``--asyncio`` the same engine on asyncio's loop (a reference, no goal);
   nginx (its own instance: temporary prefix and config, ``daemon off``, one worker,
   keep-alive upstream of both backends, the same X-Forwarded-* headers added); and
   MiniStack's ALB data plane when an interpreter with ``ministack`` is found
   (``--ministack-python``, else this interpreter): its gateway bound to 127.0.0.1, a load
   balancer, an ``ip`` target group of both backends and a port-80 listener created through
   its ELBv2 API, requests addressed with ``Host: bench.alb.localhost``.
3. Measures with ``wrk`` (``--threads``/``--connections``, ``--seconds`` each, after a short
   warm-up) one backend directly (the ceiling), then each proxy, in ``--rounds`` alternating
   rounds; the medians are reported (the machine may be shared: alternation spreads the noise).
4. Prints requests/s and p50/p99 latency of each, the ratios, and PASS/MISS for the goals:
   ecsemu >= 0.4 x nginx's requests/s on one core, ecsemu's p99 <= nginx's p99 + 2 ms, and
   ecsemu ahead of MiniStack (when measured).

Vocabulary
----------
proxy under test
    ecsemu's engine process, nginx's worker or MiniStack's server: pinned to the first CPU (with
    two CPUs or more) while wrk and the backends share the others, so every proxy gets exactly
    the same machine: one core, as a single CPython thread and a single nginx worker each use.

Invariants
----------
* Only 127.0.0.1 is contacted; every run is bounded in time.
* Only processes this script started are signalled, by PID (SIGTERM, then SIGKILL after a
  deadline), also when the run fails or is interrupted.
* A run with socket errors or non-2xx answers says so and exits 1; goals missed do not change
  the exit status (this is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
READY_DEADLINE_S = 30.0
STOP_DEADLINE_S = 5.0
WARMUP_S = 2
RPS_GOAL_RATIO = 0.4
GOAL = "ecsemu"
MINISTACK = "ministack (ALB)"
MINISTACK_HOST = "bench.alb.localhost"
P99_GOAL_SLACK_MS = 2.0


# --------------------------------------------------------------------------- backend process


class _BackendProtocol(asyncio.Protocol):
    """Answers each request head with a fixed response (no request bodies in this bench)."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            assert self.transport is not None
            self.transport.write(self.response * count)


def run_backend(name: str) -> None:
    body = f"hello from {name}\n".encode()
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _BackendProtocol(response), HOST, 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- engine process


def run_engine(targets: list[int], asyncio_loop: bool) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    from ecsemu.lb import (  # noqa: PLC0415 - only the engine's own process needs ecsemu
        Forward,
        HealthCheckSpec,
        LbSnapshot,
        ListenerSpec,
        LoadBalancerEngine,
        RuleSpec,
        TargetGroupSpec,
        TargetSpec,
    )

    # The default loop is the one users get: uvloop's when it is installed.
    engine = LoadBalancerEngine(loop_factory=asyncio.new_event_loop if asyncio_loop else None)
    engine.start()
    group = TargetGroupSpec(
        arn="tg",
        health=HealthCheckSpec(interval_s=5.0, healthy_threshold=2),
        targets=tuple(TargetSpec(id=f"backend-{i}", port=port) for i, port in enumerate(targets)),
    )
    engine.apply(
        LbSnapshot(
            listeners=(ListenerSpec(arn="bench", port=0, rules=(RuleSpec(action=Forward.to("tg")),)),),
            target_groups=(group,),
        )
    )
    print(engine.bound_port("bench"), flush=True)
    sys.stdin.read()
    engine.stop()


# --------------------------------------------------------------------------- orchestration


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    cpu_us_per_request: float = 0.0
    """CPU time (user + system) of the process under test per request: robust to a busy machine."""


class Processes:
    """Every process this script started, stopped by PID at the end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def spawn(self, argv: list[str], *, cpus: set[int] | None, stdin: int | None = subprocess.PIPE,
              stdout: int | IO[str] | None = subprocess.PIPE) -> subprocess.Popen[str]:
        process = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
        self.started.append(process)
        if cpus:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(process.pid, cpus)
        return process

    def stop(self, process: subprocess.Popen[str]) -> None:
        if process.poll() is None:
            with contextlib.suppress(OSError):
                if process.stdin:
                    process.stdin.close()
            try:
                process.wait(timeout=STOP_DEADLINE_S / 2)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_DEADLINE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=STOP_DEADLINE_S)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            self.stop(process)


def read_port(process: subprocess.Popen[str], what: str) -> int:
    assert process.stdout is not None
    deadline = time.monotonic() + READY_DEADLINE_S
    line = process.stdout.readline()
    if not line.strip().isdigit() or time.monotonic() > deadline:
        error = process.stderr.read() if process.stderr and process.poll() is not None else ""
        raise RuntimeError(f"{what} did not start: {line!r} {error}")
    return int(line)


def wait_port(port: int) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


def nginx_config(prefix: Path, port: int, backends: list[int]) -> str:
    servers = "\n".join(f"        server {HOST}:{p};" for p in backends)
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream backends {{
{servers}
        keepalive 64;
    }}
    server {{
        listen {HOST}:{port};
        location / {{
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Port $server_port;
        }}
    }}
}}
"""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(name: str, output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(name, rps, p50, p99, errors, int(non_2xx_match.group(1)) if non_2xx_match else 0)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` (``/proc/<pid>/stat`` fields 14 and 15)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk(
    processes: Processes, name: str, port: int, args: argparse.Namespace, cpus: set[int] | None, measured: list[int]
) -> Result:
    url = f"http://{HOST}:{port}/"
    base = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--latency", "--timeout", "5s"]
    if name == MINISTACK:
        base += ["-H", f"Host: {MINISTACK_HOST}"]
    warmup = processes.spawn([*base, f"-d{WARMUP_S}s", url], cpus=cpus, stdin=subprocess.DEVNULL)
    warmup.communicate(timeout=WARMUP_S + 30)
    before = cpu_seconds(measured)
    run = processes.spawn([*base, f"-d{args.seconds}s", url], cpus=cpus, stdin=subprocess.DEVNULL)
    output, _ = run.communicate(timeout=args.seconds + 30)
    result = parse_wrk(name, output)
    count = re.search(r"(\d+) requests in", output)
    if count and int(count.group(1)):
        result.cpu_us_per_request = (cpu_seconds(measured) - before) / int(count.group(1)) * 1e6
    return result


def start_nginx(processes: Processes, prefix: Path, backends: list[int], cpus: set[int] | None) -> int:
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir()
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = int(probe.getsockname()[1])
    (prefix / "nginx.conf").write_text(nginx_config(prefix, port, backends))
    nginx = processes.spawn(
        ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")],
        cpus=cpus,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    wait_port(port)
    if cpus:  # the master forked its worker before we could pin it: pin the worker too
        for child in _children(nginx.pid):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(child, cpus)
    return port


def ministack_python(args: argparse.Namespace) -> str | None:
    """An interpreter that can import ministack, or None."""
    python = args.ministack_python or sys.executable
    found = subprocess.run([python, "-c", "import ministack.app"], capture_output=True, check=False)
    return python if found.returncode == 0 else None


def start_ministack(processes: Processes, python: str, backends: list[int], cpus: set[int] | None) -> int:
    """MiniStack's gateway on 127.0.0.1, with an ALB forwarding to both backends."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = int(probe.getsockname()[1])
    env = {**os.environ, "BIND_HOST": HOST, "GATEWAY_PORT": str(port), "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [python, "-c", "from ministack.app import main; main()"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO_ROOT, env=env,
    )
    processes.started.append(process)  # type: ignore[arg-type]
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(process.pid, cpus)
    wait_port(port)
    import boto3  # noqa: PLC0415 - only this peer needs it

    elb = boto3.client("elbv2", endpoint_url=f"http://{HOST}:{port}", region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    lb = elb.create_load_balancer(Name=MINISTACK_HOST.split(".", maxsplit=1)[0], Subnets=["subnet-1"])["LoadBalancers"][0]
    tg = elb.create_target_group(Name="bench", Protocol="HTTP", Port=80, VpcId="vpc-1", TargetType="ip")
    tg_arn = tg["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": HOST, "Port": p} for p in backends])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}])
    return port


def median_result(name: str, runs: list[Result]) -> Result:
    ordered = sorted(runs, key=lambda r: r.requests_per_s)
    middle = ordered[len(ordered) // 2]
    return Result(
        name,
        middle.requests_per_s,
        sorted(r.p50_ms for r in runs)[len(runs) // 2],
        sorted(r.p99_ms for r in runs)[len(runs) // 2],
        sum(r.errors for r in runs),
        sum(r.non_2xx for r in runs),
        sorted(r.cpu_us_per_request for r in runs)[len(runs) // 2],
    )


def measure(args: argparse.Namespace) -> list[Result]:
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install wrk nginx-light")
    cpu_count = len(os.sched_getaffinity(0))
    pin = args.pin and cpu_count >= 2
    proxy_cpus = {0} if pin else None
    other_cpus = set(range(1, cpu_count)) if pin else None
    me = [sys.executable, str(Path(__file__).resolve())]
    processes = Processes()
    try:
        backends = []
        for name in ("a", "b"):
            process = processes.spawn([*me, "--backend", name], cpus=other_cpus)
            backends.append(read_port(process, f"backend {name}"))
        targets: dict[str, int] = {"direct (one backend)": backends[0]}
        pids: dict[str, list[int]] = {"direct (one backend)": [processes.started[0].pid]}
        variants = [(GOAL, []), *([("ecsemu (asyncio loop)", ["--asyncio-loop"])] if args.asyncio else [])]
        for label, flags in variants:
            python = args.engine_python or sys.executable
            argv = [python, str(Path(__file__).resolve()), "--serve-engine", ",".join(map(str, backends)), *flags]
            engine = processes.spawn(argv, cpus=proxy_cpus)
            targets[label] = read_port(engine, "ecsemu engine")
            pids[label] = [engine.pid]
        peer = ministack_python(args)
        if peer is None:
            print("MiniStack: not measured (no interpreter imports ministack: pip install ministack, "
                  "then --ministack-python)", file=sys.stderr)
        else:
            targets[MINISTACK] = start_ministack(processes, peer, backends, proxy_cpus)
            pids[MINISTACK] = [processes.started[-1].pid]
        with tempfile.TemporaryDirectory(prefix="ecsemu-nginx-") as tmp:
            targets["nginx"] = start_nginx(processes, Path(tmp), backends, proxy_cpus)
            nginx_master = processes.started[-1].pid
            pids["nginx"] = [nginx_master, *_children(nginx_master)]
            runs: dict[str, list[Result]] = {name: [] for name in targets}
            # Rounds alternate the proxies, so a noisy neighbour hurts all of them alike.
            for _ in range(args.rounds):
                for name, port in targets.items():
                    runs[name].append(run_wrk(processes, name, port, args, other_cpus, pids[name]))
            processes.stop_all()
    finally:
        processes.stop_all()
    return [median_result(name, results) for name, results in runs.items()]


def _children(pid: int) -> list[int]:
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            children.extend(int(c) for c in text.split())
    return children


def report(results: list[Result], as_json: bool) -> int:
    by_name = {r.name: r for r in results}
    nginx = by_name["nginx"]
    verdicts: dict[str, Any] = {}
    lines = [f"{'target':<24} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU us/req':>11}"]
    for r in results:
        lines.append(
            f"{r.name:<24} {r.requests_per_s:>10.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.errors + r.non_2xx:>7} {r.cpu_us_per_request:>11.1f}"
        )
    lines.append("")
    for r in results:
        if r.name != GOAL:  # the goal is the listener users get; the others inform
            if r.name.startswith("ecsemu"):
                lines.append(f"{r.name}: {r.requests_per_s / nginx.requests_per_s:.2f}x nginx req/s (reference, no goal)")
            continue
        ratio = r.requests_per_s / nginx.requests_per_s
        rps_ok = ratio >= RPS_GOAL_RATIO
        p99_ok = r.p99_ms <= nginx.p99_ms + P99_GOAL_SLACK_MS
        verdicts[r.name] = {"rps_ratio_vs_nginx": round(ratio, 3), "rps_goal": rps_ok, "p99_goal": p99_ok}
        lines.append(
            f"{r.name}: {ratio:.2f}x nginx req/s ({'PASS' if rps_ok else 'MISS'}: goal >= {RPS_GOAL_RATIO}x); "
            f"p99 {r.p99_ms:.2f} ms vs nginx {nginx.p99_ms:.2f} ms + {P99_GOAL_SLACK_MS:.0f} "
            f"({'PASS' if p99_ok else 'MISS'}); {r.requests_per_s / by_name['direct (one backend)'].requests_per_s:.2f}x direct; "
            f"CPU per request {r.cpu_us_per_request / nginx.cpu_us_per_request:.1f}x nginx's"
        )
        if MINISTACK in by_name:
            peer = by_name[MINISTACK]
            ahead = r.requests_per_s > peer.requests_per_s
            verdicts[r.name]["ahead_of_ministack"] = ahead
            lines.append(
                f"{r.name}: {r.requests_per_s / peer.requests_per_s:.1f}x MiniStack's ALB req/s "
                f"({'PASS' if ahead else 'MISS'}: goal ahead of it); p99 {r.p99_ms:.2f} ms vs {peer.p99_ms:.2f} ms"
            )
    failed = [r.name for r in results if r.errors or r.non_2xx]
    if as_json:
        print(json.dumps({"results": [asdict(r) for r in results], "verdicts": verdicts, "failed": failed}, indent=2))
    else:
        print("\n".join(lines))
        if failed:
            print(f"\nERRORS in: {', '.join(failed)}")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="measurements per target, alternating; medians shown")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin the proxy to its own CPU")
    parser.add_argument("--asyncio", action="store_true", help="also measure the engine on asyncio's own loop")
    parser.add_argument("--engine-python", help="interpreter for the engine process (default: this one)")
    parser.add_argument("--ministack-python", help="an interpreter with ministack installed (default: this one)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--serve-engine", help=argparse.SUPPRESS)
    parser.add_argument("--asyncio-loop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        run_backend(args.backend)
        return
    if args.serve_engine:
        run_engine([int(p) for p in args.serve_engine.split(",")], args.asyncio_loop)
        return
    sys.exit(report(measure(args), args.json))


if __name__ == "__main__":
    main()
