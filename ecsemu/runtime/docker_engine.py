"""Whether the Docker engine is there: a quick ping at start (``docker_available``), and telling
an engine that did not answer from one that answered "no" (``engine_down``), so an outage is
logged once and retried rather than taken for a task's failure."""

from __future__ import annotations

import docker
import docker.errors
import requests.exceptions


def engine_down(error: BaseException) -> bool:
    """Whether ``error`` says the engine did not answer at all (its socket refused or timed
    out), as opposed to an answer refusing the request (``docker.errors.APIError``)."""
    if isinstance(error, docker.errors.APIError):
        return False
    return isinstance(
        error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError)
    )


def docker_available(timeout_s: float = 2.0) -> bool:
    """Whether a Docker engine (the local socket or ``DOCKER_HOST``) answers within ``timeout_s``."""
    try:
        client = docker.from_env(timeout=max(1, round(timeout_s)))
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()
