"""botocore clients that speak a chosen wire protocol, and a gateway served on a free port.

botocore speaks the first protocol of a model's ``protocols`` it supports (CloudWatch:
``smithy-rpc-v2-cbor``). To speak another, a copy of the model naming only that protocol is
put in a data directory searched before botocore's own (``Loader.search_paths``, the place of
``AWS_DATA_PATH`` models); everything else (endpoint rules, paginators) still comes from
botocore.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from ecsemu.app import HttpServer
from ecsemu.protocol.legacy_query import legacy_query_data

PROTOCOLS = ("smithy-rpc-v2-cbor", "json", "query")


def service_data(service: str, protocol: str) -> dict[str, Any]:
    """botocore's model of ``service`` speaking only ``protocol`` (SQS's query: its query-era traits)."""
    if protocol == "query":
        legacy = legacy_query_data(service)
        if legacy is not None:
            return legacy
    data = copy.deepcopy(
        botocore.session.get_session().get_component("data_loader").load_service_model(service, "service-2")
    )
    data["metadata"]["protocol"] = protocol
    data["metadata"]["protocols"] = [protocol]
    return data


def client_in_protocol(service: str, protocol: str, endpoint: str, data_dir: Path, **kwargs: Any) -> Any:
    data = service_data(service, protocol)
    target = data_dir / protocol / service / data["metadata"]["apiVersion"] / "service-2.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(data_dir / protocol))
    options = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
        "config": Config(retries={"max_attempts": 1}),
    }
    options.update(kwargs)
    return boto3.Session(botocore_session=session).client(service, **options)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served as ecsemu serves its gateway, on a free loopback port, for the block."""
    server = HttpServer("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.close()
