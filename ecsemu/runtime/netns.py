"""A listening socket inside another process's network namespace (a task's), created from here.

ECS serves the task metadata, credentials and agent endpoints on ``169.254.170.2`` inside each
task. ecsemu does the same without listening on any host address: a short-lived thread enters
the task's network namespace (``setns``), gives the namespace's loopback the link-local address
(``169.254.170.2/32``, on ``lo``), binds and listens there, and ends. A socket belongs to the
namespace it was created in, so the listening socket stays inside the task while ecsemu accepts
on it from its own threads; the host never sees the address and never sends to a container.

Invariants:
- Never the host's namespace: a PID whose namespace is ecsemu's own (a task's process gone and
  its PID reused) is refused.
- Only the one thread that makes the socket ever changes namespace, and it ends right after:
  no other thread of ecsemu runs outside the host's namespace.
- Needs ``CAP_SYS_ADMIN`` (setns) and ``CAP_NET_ADMIN`` (the address) over the task's
  namespace, and the task's PID visible in ``/proc`` (a containerised ecsemu needs
  ``--pid host`` and those capabilities); ``available()`` says whether this process has them.
- Linux only; elsewhere ``available()`` is False and nothing here is used.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading
from typing import Final

TASK_ENDPOINT_ADDRESS: Final = "169.254.170.2"
TASK_ENDPOINT_PORT: Final = 80
CLONE_NEWNET: Final = 0x40000000
_SIOCSIFADDR: Final = 0x8916
_SIOCSIFNETMASK: Final = 0x891C
_ALIAS: Final = b"lo:ecs"  # the address is a labelled secondary address of the namespace's lo
_BACKLOG: Final = 128


class NamespaceError(OSError):
    """The namespace could not be entered or the socket not made there."""


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise NamespaceError(code, f"setns: {os.strerror(code)}")


def available() -> bool:
    """Whether this process may enter network namespaces (it re-enters its own to find out)."""
    if not os.path.exists("/proc/thread-self/ns/net"):
        return False
    outcome: list[bool] = []

    def probe() -> None:
        try:
            fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=probe, name="ecsemu-netns-probe", daemon=True)
    thread.start()
    thread.join()
    return bool(outcome and outcome[0])


def _add_loopback_address(address: str) -> None:
    """``address``/32 on this thread's namespace's ``lo`` (a no-op when it is there already)."""
    packed = socket.inet_aton(address)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
        request = struct.pack("16sH2s4s8s", _ALIAS, socket.AF_INET, b"\0\0", packed, b"\0" * 8)
        fcntl.ioctl(control.fileno(), _SIOCSIFADDR, request)
        mask = struct.pack("16sH2s4s8s", _ALIAS, socket.AF_INET, b"\0\0", b"\xff\xff\xff\xff", b"\0" * 8)
        fcntl.ioctl(control.fileno(), _SIOCSIFNETMASK, mask)


def listen_in(pid: int, address: str = TASK_ENDPOINT_ADDRESS, port: int = TASK_ENDPOINT_PORT) -> socket.socket:
    """A non-blocking TCP socket listening on ``address:port`` in the network namespace of
    process ``pid``; raises ``NamespaceError`` when that cannot be done."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        except OSError as error:
            failed.append(NamespaceError(error.errno or errno.ESRCH, f"the task's network namespace: {error.strerror}"))
            return
        try:
            if os.fstat(fd).st_ino == os.stat("/proc/self/ns/net").st_ino:
                # A stale PID now names a process of the host's namespace: never listen there.
                raise NamespaceError(errno.EPERM, "the process is in ecsemu's own network namespace")
            _setns(fd)
            _add_loopback_address(address)
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((address, port))
                listener.listen(_BACKLOG)
                listener.setblocking(False)
            except BaseException:
                listener.close()
                raise
            made.append(listener)
        except BaseException as error:  # reported to the caller's thread
            failed.append(error)
        finally:
            os.close(fd)

    thread = threading.Thread(target=work, name=f"ecsemu-netns-{pid}", daemon=True)
    thread.start()
    thread.join()
    if made:
        return made[0]
    error = failed[0] if failed else NamespaceError(errno.EIO, "no socket was made")
    if isinstance(error, NamespaceError):
        raise error
    raise NamespaceError(getattr(error, "errno", None) or errno.EIO, f"{type(error).__name__}: {error}")
