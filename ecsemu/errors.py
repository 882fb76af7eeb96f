"""Errors as data.

Every failure an API caller may see is an :class:`AwsError`: a code (the ``__type`` on the
wire), an HTTP status, whether the sender is at fault, and a message. Services raise
subclasses; only the protocol serializer decides how they look on the wire.

    AwsError
    ├── ClientError              sender's fault, HTTP 400 (most service exceptions)
    │   └── (service exceptions: ClusterNotFoundException, ... in services/<svc>/errors.py)
    ├── NotSupportedError        a valid operation ecsemu does not implement (HTTP 400)
    └── ServerError              our fault, HTTP 500 (never raised on purpose)
"""

from __future__ import annotations


class AwsError(Exception):
    """Base of every error that is answered to an API caller."""

    code: str = "InternalFailure"
    status_code: int = 500
    sender_fault: bool = False
    # The code in the query protocol (and in ``x-amzn-query-error`` for awsQueryCompatible
    # services) when it is not the model's error code of ``code`` (SQS's query-era codes).
    query_code: str | None = None

    def __init__(self, message: str = "", *, code: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ClientError(AwsError):
    """The request is at fault; AWS answers HTTP 400."""

    code = "ClientException"
    status_code = 400
    sender_fault = True


class NotSupportedError(ClientError):
    """A real AWS operation or option that ecsemu does not emulate (yet)."""

    def __init__(self, what: str, *, code: str = "UnsupportedOperationException") -> None:
        super().__init__(f"{what} is not supported by ecsemu yet.", code=code)


class ServerError(AwsError):
    """Our own failure: HTTP 500. Reaching this is a bug."""

    code = "ServerException"
    status_code = 500
