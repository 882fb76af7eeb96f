"""Load balancer proxy throughput: ecsemu's HTTP listener against nginx, same backends, same run.

Run by hand from the repository root::

    python bench/lb_proxy.py [--seconds 10] [--threads 4] [--connections 32] [--json]
    python bench/lb_proxy.py --uvloop --engine-python /path/to/venv/bin/python   # engine on uvloop too

Needs ``wrk`` and ``nginx`` (Debian: ``apt-get install wrk nginx-light``).

What it does
------------
1. Starts two backends: small asyncio HTTP/1.1 servers in processes of their own (this file
   with ``--backend``), each answering every request with a fixed 200 and keep-alive.
2. Measures with ``wrk`` (``--threads``/``--connections``, ``--seconds`` each, after a short
   warm-up): one backend directly (the ceiling), ecsemu's engine (this file with
   ``--serve-engine``, its own process, round robin over both backends, health checks on),
   and nginx (its own instance: temporary prefix and config, ``daemon off``, one worker,
   keep-alive upstream of both backends, the same X-Forwarded-* headers added).
3. Prints requests/s and p50/p99 latency of each, the ratios, and PASS/MISS for the goals:
   ecsemu ≥ 0.8 × nginx's requests/s, and ecsemu's p99 ≤ nginx's p99 + 2 ms.

Vocabulary
----------
proxy under test
    ecsemu's engine process or nginx's worker: pinned to the first CPU (with two CPUs or more)
    while wrk and the backends share the others, so both proxies get exactly the same machine:
    one core, as a single CPython thread and a single nginx worker each use.

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
RPS_GOAL_RATIO = 0.8
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


def run_engine(targets: list[int], use_uvloop: bool) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    from ecsemu.lb import (
        Forward,
        HealthCheckSpec,
        LbSnapshot,
        ListenerSpec,
        LoadBalancerEngine,
        RuleSpec,
        TargetGroupSpec,
        TargetSpec,
    )

    loop_factory = None
    if use_uvloop:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        loop_factory = uvloop.new_event_loop
    engine = LoadBalancerEngine(loop_factory=loop_factory)
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
    import socket

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


def run_wrk(processes: Processes, name: str, port: int, args: argparse.Namespace, cpus: set[int] | None) -> Result:
    url = f"http://{HOST}:{port}/"
    base = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--latency", "--timeout", "5s"]
    warmup = processes.spawn([*base, f"-d{WARMUP_S}s", url], cpus=cpus, stdin=subprocess.DEVNULL)
    warmup.communicate(timeout=WARMUP_S + 30)
    run = processes.spawn([*base, f"-d{args.seconds}s", url], cpus=cpus, stdin=subprocess.DEVNULL)
    output, _ = run.communicate(timeout=args.seconds + 30)
    return parse_wrk(name, output)


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
    results: list[Result] = []
    try:
        backends = []
        for name in ("a", "b"):
            process = processes.spawn([*me, "--backend", name], cpus=other_cpus)
            backends.append(read_port(process, f"backend {name}"))
        results.append(run_wrk(processes, "direct (one backend)", backends[0], args, other_cpus))

        loops = ["asyncio", *(["uvloop"] if args.uvloop else [])]
        for loop_name in loops:
            python = args.engine_python or sys.executable
            argv = [python, str(Path(__file__).resolve()), "--serve-engine", ",".join(map(str, backends))]
            if loop_name == "uvloop":
                argv.append("--use-uvloop")
            engine = processes.spawn(argv, cpus=proxy_cpus)
            port = read_port(engine, "ecsemu engine")
            results.append(run_wrk(processes, f"ecsemu ({loop_name})", port, args, other_cpus))
            processes.stop(engine)

        with tempfile.TemporaryDirectory(prefix="ecsemu-nginx-") as tmp:
            prefix = Path(tmp)
            for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (prefix / sub).mkdir()
            import socket

            with socket.socket() as probe:
                probe.bind((HOST, 0))
                nginx_port = int(probe.getsockname()[1])
            (prefix / "nginx.conf").write_text(nginx_config(prefix, nginx_port, backends))
            nginx = processes.spawn(
                ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")],
                cpus=proxy_cpus,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
            wait_port(nginx_port)
            # The master forks its worker: pin the whole process group's members we can see.
            if proxy_cpus:
                for child in _children(nginx.pid):
                    with contextlib.suppress(OSError):
                        os.sched_setaffinity(child, proxy_cpus)
            results.append(run_wrk(processes, "nginx", nginx_port, args, other_cpus))
            processes.stop(nginx)
    finally:
        processes.stop_all()
    return results


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
    lines = [f"{'target':<22} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"]
    for r in results:
        lines.append(f"{r.name:<22} {r.requests_per_s:>10.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors + r.non_2xx:>7}")
    lines.append("")
    for r in results:
        if not r.name.startswith("ecsemu"):
            continue
        ratio = r.requests_per_s / nginx.requests_per_s
        rps_ok = ratio >= RPS_GOAL_RATIO
        p99_ok = r.p99_ms <= nginx.p99_ms + P99_GOAL_SLACK_MS
        verdicts[r.name] = {"rps_ratio_vs_nginx": round(ratio, 3), "rps_goal": rps_ok, "p99_goal": p99_ok}
        lines.append(
            f"{r.name}: {ratio:.2f}x nginx req/s ({'PASS' if rps_ok else 'MISS'}: goal >= {RPS_GOAL_RATIO}x); "
            f"p99 {r.p99_ms:.2f} ms vs nginx {nginx.p99_ms:.2f} ms + {P99_GOAL_SLACK_MS:.0f} "
            f"({'PASS' if p99_ok else 'MISS'}); {r.requests_per_s / by_name['direct (one backend)'].requests_per_s:.2f}x direct"
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
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin the proxy to its own CPU")
    parser.add_argument("--uvloop", action="store_true", help="also measure the engine on uvloop (needs it installed)")
    parser.add_argument("--engine-python", help="interpreter for the engine process (e.g. a venv with uvloop)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--serve-engine", help=argparse.SUPPRESS)
    parser.add_argument("--use-uvloop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        run_backend(args.backend)
        return
    if args.serve_engine:
        run_engine([int(p) for p in args.serve_engine.split(",")], args.use_uvloop)
        return
    sys.exit(report(measure(args), args.json))


if __name__ == "__main__":
    main()
