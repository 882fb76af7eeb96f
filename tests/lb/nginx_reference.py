"""Measures nginx's answer to every probe of ``smuggling_probes``: run by hand, not by pytest.

    python tests/lb/nginx_reference.py        # needs nginx (Debian: apt-get install nginx-light)

Starts nginx (``daemon off``, one worker, a config in a temporary directory, listening on
127.0.0.1 only) as a reverse proxy to a raw-socket upstream on 127.0.0.1 that records every
byte, sends each probe on a connection of its own, and prints per probe: nginx's status, how
many requests reached the upstream, and whether that agrees with ``smuggling_probes``
(``REFUSED``: that status and nothing forwarded; ``FORWARDED``: one request forwarded;
``STRICTER_THAN_NGINX``: shown for the record). nginx is stopped by its PID at the end. Exit
status 1 when a probe disagrees: update ``smuggling_probes`` (and the engine) to match.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smuggling_probes import FORWARDED, REFUSED, STRICTER_THAN_NGINX

HOST = "127.0.0.1"
UPSTREAM_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class Upstream:
    """Counts the request heads it receives; answers each connection once and closes it."""

    def __init__(self) -> None:
        self.heads = 0
        self.lock = threading.Lock()
        self.sock = socket.create_server((HOST, 0))
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        with conn, contextlib.suppress(OSError):
            conn.settimeout(1.0)
            while b"\r\n\r\n" not in data and (piece := conn.recv(65536)):
                data += piece
            if b"\r\n\r\n" in data:
                with self.lock:
                    self.heads += 1
                conn.sendall(UPSTREAM_ANSWER)


def send(port: int, raw: bytes) -> bytes:
    with socket.create_connection((HOST, port), timeout=2.0) as sock:
        sock.sendall(raw)
        answer = b""
        with contextlib.suppress(OSError):
            while piece := sock.recv(65536):
                answer += piece
                sock.settimeout(0.3)
        return answer


def main() -> int:
    if shutil.which("nginx") is None:
        sys.exit("nginx is missing: apt-get install nginx-light")
    upstream = Upstream()
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = int(probe.getsockname()[1])
    with tempfile.TemporaryDirectory(prefix="ecsemu-nginx-probes-") as tmp:
        prefix = Path(tmp)
        (prefix / "nginx.conf").write_text(
            f"daemon off; worker_processes 1; pid {prefix}/nginx.pid; error_log {prefix}/error.log;\n"
            "events { worker_connections 64; }\n"
            f"http {{ access_log off; client_body_temp_path {prefix}/b; proxy_temp_path {prefix}/p;\n"
            f" fastcgi_temp_path {prefix}/f; uwsgi_temp_path {prefix}/u; scgi_temp_path {prefix}/s;\n"
            f" server {{ listen {HOST}:{port}; location / {{ proxy_pass http://{HOST}:{upstream.port};\n"
            '  proxy_http_version 1.1; proxy_set_header Connection ""; } } }\n'
        )
        nginx = subprocess.Popen(["nginx", "-p", tmp, "-e", f"{tmp}/error.log", "-c", f"{tmp}/nginx.conf"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
                    break
                time.sleep(0.05)
            return report(port, upstream, nginx.pid)
        finally:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(5)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait(5)


def report(port: int, upstream: Upstream, pid: int) -> int:
    print(f"{subprocess.run(['nginx', '-v'], capture_output=True, text=True, check=False).stderr.strip()} (pid {pid})")
    cases = {**{k: (raw, status) for k, (raw, status) in REFUSED.items()},
             **{k: (raw, "forwarded") for k, (raw, _) in FORWARDED.items()},
             **{k: (raw, f"stricter: {why}") for k, (raw, _, why) in STRICTER_THAN_NGINX.items()}}
    disagreements = 0
    for name, (raw, expected) in cases.items():
        before = upstream.heads
        answer = send(port, raw)
        time.sleep(0.05)
        forwarded = upstream.heads - before
        found = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
        status = int(found.group(1)) if found else None
        if isinstance(expected, int):
            agrees = status == expected and forwarded == 0
        else:
            agrees = forwarded == 1 if expected == "forwarded" else True
        disagreements += not agrees
        print(f"{'ok ' if agrees else 'BAD'} {name:40} nginx {status} forwarded {forwarded}  (expected {expected})")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
