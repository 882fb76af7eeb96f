"""Where a listener binds: the requested port when it can, another free one when it cannot.

* Always 127.0.0.1 (the emulator's security default).
* ``port_offset`` maps a requested port P to P + offset (so port 80 can be served as 8080
  by a non-root user, or several emulators can share a host).
* When that port is taken, not permitted (below 1024 without the capability) or out of range,
  the listener binds a free port chosen by the kernel instead; ``bound_port`` reports it.
"""

from __future__ import annotations

import socket
from typing import Final

LISTEN_HOST: Final = "127.0.0.1"
LISTEN_BACKLOG: Final = 1024


def candidate_ports(requested_port: int, port_offset: int = 0) -> tuple[int, ...]:
    """The ports to try in order; 0 means "any free port"."""
    wanted = requested_port + port_offset
    return (wanted, 0) if 0 < wanted <= 65535 else (0,)


def open_listening_socket(requested_port: int, port_offset: int = 0, host: str = LISTEN_HOST) -> socket.socket:
    """A listening, non-blocking socket on ``host``; raises OSError only if no port at all works."""
    last_error: OSError | None = None
    for port in candidate_ports(requested_port, port_offset):
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
        except OSError as error:
            sock.close()
            last_error = error
            continue
        return sock
    raise last_error or OSError("no port could be bound")
