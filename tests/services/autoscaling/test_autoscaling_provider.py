"""The Application Auto Scaling provider answers every operation of botocore's model."""

from __future__ import annotations

import botocore.session
import pytest

from ecsemu.context import RequestContext
from ecsemu.errors import NotSupportedError
from ecsemu.services.autoscaling.provider import ApplicationAutoScalingProvider
from ecsemu.state.store import Store


def test_every_operation_is_implemented_or_refused_by_name() -> None:
    model = botocore.session.get_session().get_service_model("application-autoscaling")
    provider = ApplicationAutoScalingProvider(Store())
    missing = set(model.operation_names) - provider.implemented()
    assert missing == {"GetPredictiveScalingForecast"}
    with pytest.raises(NotSupportedError) as raised:
        provider.handle(RequestContext("123456789012", "us-east-1"), "GetPredictiveScalingForecast", {})
    assert raised.value.code == "ValidationException"
    assert "GetPredictiveScalingForecast" in raised.value.message
