"""HTTP/1.1 messages parsed by llhttp (``httptools``), as events; and the serializers. No I/O.

The connection code feeds bytes in (``feed``, ``feed_eof``) and pulls events out
(``next_event``), in the manner of h11; this module never touches a socket, a clock or the
event loop, so every framing rule here is tested with plain byte strings. llhttp does the
parsing; this module turns its callbacks into events, decides the framing from the fields
llhttp accepted, and applies the rules nginx adds to the grammar (``request_rules``).

Events
------
``RequestHead`` / ``ResponseHead``
    The start line and the header fields (names as sent, values without surrounding
    whitespace), with the body's framing decided and whether the connection may be kept
    alive afterwards. An absolute-form request target arrives in origin-form, its authority
    in the ``Host`` field.
``Data``
    A piece of body, decoded from its framing (chunk sizes removed).
``EndOfMessage``
    The body is complete (``trailers`` of a chunked body, if any).
``NEED_DATA``
    Nothing more until more bytes are fed.
``PAUSED``
    A message is complete; further requests are held until the caller starts the next
    message (``start_next_request``). Pipelined requests wait here, already parsed.
``CLOSED``
    The peer closed the connection cleanly between two messages.

Requests: strict (llhttp's defaults, never a leniency)
-----------------------------------------------------
Every line ends in CRLF; a bare LF or CR, a control character, a space or a NUL where the
grammar has none, a duplicated or invalid ``Content-Length``, ``Content-Length`` beside
``Transfer-Encoding``, a malformed chunk → 400; the rest of nginx's rules (``request_rules``)
with nginx's status (400, 405, 414, 501, 505). Sizes as an ALB bounds them: request line
``MAX_REQUEST_LINE_BYTES`` (414), one field ``MAX_FIELD_BYTES`` and the whole head
``MAX_HEAD_BYTES`` (400, as nginx answers a head too large). A response's head is bounded by
``MAX_HEAD_BYTES`` alone (beyond it: 502).
Framing: ``chunked`` or ``Content-Length`` or no body; the proxy forwards the body in the
framing decided here and nothing else (it never copies a framing field it did not parse).

Responses: as leniently as nginx reads targets
----------------------------------------------
llhttp's response parser with ``RESPONSE_LENIENCIES``: a line (status line, fields, chunk
lines, trailers) may end in a bare LF; a chunk size may be followed by spaces;
``Transfer-Encoding: chunked`` wins over a ``Content-Length`` beside it. A bare CR in a field
is still an error. To HEAD, and for 1xx, 204 and 304 → no body; chunked → chunked; any
other transfer coding, or no length → until the connection closes. Each response gets a
parser of its own (``expect_response``); bytes after the response make ``buffered``
non-zero (the connection is then not reused). What goes on to the client is always
re-serialized with CRLF.

Errors are :class:`HttpError` with the status to answer; on a response the proxy turns any
of them into its own 502.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Final

import httptools

from ecsemu.lb.request_rules import (
    RequestRejected,
    check_fields,
    check_transfer_coding,
    check_version,
    origin_form,
    valid_host,
)

MAX_REQUEST_LINE_BYTES: Final = 16 * 1024
MAX_FIELD_BYTES: Final = 16 * 1024
MAX_HEAD_BYTES: Final = 64 * 1024
"""Request line (or status line) plus header fields."""
Header = tuple[bytes, bytes]

RESPONSE_LENIENCIES: Final = {
    "lenient_optional_cr_before_lf": True,
    "lenient_optional_lf_after_cr": True,  # llhttp's name; it is what lets "5\nhello\n" chunk lines through
    "lenient_chunked_length": True,
    "lenient_spaces_after_chunk_size": True,
}
"""Given to the response parser only; requests are parsed with none."""


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Framing(enum.Enum):
    NONE = "none"
    LENGTH = "length"
    CHUNKED = "chunked"
    UNTIL_CLOSE = "until-close"


class _Marker(enum.Enum):
    NEED_DATA = "need-data"
    PAUSED = "paused"
    CLOSED = "closed"


NEED_DATA: Final = _Marker.NEED_DATA
PAUSED: Final = _Marker.PAUSED
CLOSED: Final = _Marker.CLOSED


@dataclass(slots=True)
class RequestHead:
    method: bytes
    target: bytes
    http11: bool
    headers: list[Header]
    keep_alive: bool
    framing: Framing
    content_length: int = 0
    connection: tuple[bytes, ...] = ()
    """The ``Connection`` header's tokens, lower-case."""

    def get(self, name: bytes) -> bytes | None:
        return header_value(self.headers, name)


@dataclass(slots=True)
class ResponseHead:
    status: int
    reason: bytes
    http11: bool
    headers: list[Header]
    keep_alive: bool
    framing: Framing
    content_length: int = 0
    connection: tuple[bytes, ...] = ()

    def get(self, name: bytes) -> bytes | None:
        return header_value(self.headers, name)


@dataclass(slots=True)
class Data:
    data: bytes


@dataclass(slots=True)
class EndOfMessage:
    trailers: list[Header] = field(default_factory=list)


Event = RequestHead | ResponseHead | Data | EndOfMessage | _Marker


def header_value(headers: list[Header], name: bytes) -> bytes | None:
    """The first value of ``name`` (lower-case bytes), or None."""
    for key, value in headers:
        if len(key) == len(name) and key.lower() == name:
            return value
    return None


def _keep_alive(http11: bool, tokens: tuple[bytes, ...]) -> bool:
    if not tokens:
        return http11
    if http11:
        return b"close" not in tokens
    return b"keep-alive" in tokens and b"close" not in tokens


def _tokens(value: bytes) -> list[bytes]:
    return [t.strip(b" \t").lower() for t in value.split(b",")]


_HEAD_GUESS: Final = 256
"""What a queued head counts towards ``buffered``."""


class _Parser:
    """What both parsers share: the event queue, the head's fields and its size bounds."""

    __slots__ = (
        "_eof",
        "_error",
        "_events",
        "_fields",
        "_head_bytes",
        "_in_head",
        "_queued",
        "_trailers",
        "error_status",
        "max_field",
    )

    def __init__(self, error_status: int, max_field: int) -> None:
        self._events: deque[Event] = deque()
        self._queued = 0
        self._error: HttpError | None = None
        self._eof = False
        self._fields: list[Header] = []
        self._trailers: list[Header] = []
        self._head_bytes = 0
        self._in_head = False
        self.error_status = error_status
        """Status of a size error: 400 for a client's request, 502 for a target's response."""
        self.max_field = max_field

    @property
    def buffered(self) -> int:
        return self._queued

    def _push(self, event: Event, size: int) -> None:
        self._events.append(event)
        self._queued += size

    def _pop(self) -> Event:
        event = self._events.popleft()
        if isinstance(event, Data):
            self._queued -= len(event.data)
        elif not isinstance(event, EndOfMessage):
            self._queued -= _HEAD_GUESS
        return event

    def _begin_head(self) -> None:
        self._fields = []
        self._trailers = []
        self._head_bytes = 0
        self._in_head = True

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        value = value.rstrip(b" \t")  # llhttp drops the whitespace before a value, not after
        size = len(name) + len(value) + 4
        if size > self.max_field:
            raise HttpError(self.error_status, "header field too large")
        if not self._in_head:
            self._trailers.append((name, value))
            return
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise HttpError(self.error_status, "header section too large")
        self._fields.append((name, value))

    def _guard_head(self, fed: int) -> None:
        """Bytes of a head that spans reads count whole: a field that never ends is bounded."""
        if self._in_head:
            self._head_bytes += fed
            if self._head_bytes > MAX_HEAD_BYTES + MAX_FIELD_BYTES and self._error is None:
                self._error = HttpError(self.error_status, "header section too large")


class RequestParser(_Parser):
    """Parses the requests a client sends on one connection; hands them out one at a time."""

    __slots__ = ("_in_message", "_parser", "_url", "_waiting")

    def __init__(self) -> None:
        super().__init__(400, MAX_FIELD_BYTES)
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._waiting = False
        self._in_message = False

    def feed(self, data: bytes) -> None:
        if self._error is not None or not data:
            return
        head_before = self._in_head
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # An Upgrade request (with no body: see on_headers_complete) is an ordinary one
            # here, since the proxy drops Upgrade; parsing goes on after its head.
            self._parser = httptools.HttpRequestParser(self)
            self.feed(data[int(upgrade.args[0]) :])
        except httptools.HttpParserCallbackError as error:
            cause = error.__context__
            if isinstance(cause, HttpError | RequestRejected):
                self._error = HttpError(cause.status, str(cause))
            else:
                self._error = HttpError(400, str(error))
        except httptools.HttpParserError as error:
            self._error = HttpError(self._status_of(error), str(error))
        if head_before:
            self._guard_head(len(data))

    def _status_of(self, error: httptools.HttpParserError) -> int:
        text = str(error)
        if "Transfer-Encoding" in text and "Content-Length" not in text:
            seen = any(n.lower() == b"transfer-encoding" for n, _ in self._fields)
            return 400 if seen else 501
        if "HTTP version" in text:
            return 505
        return 400

    def feed_eof(self) -> None:
        self._eof = True

    def next_event(self) -> Event:
        if self._waiting:
            return PAUSED
        if self._events:
            event = self._pop()
            if isinstance(event, EndOfMessage):
                self._waiting = True
            return event
        if self._error is not None:
            raise self._error
        if self._eof:
            if self._in_message:
                raise HttpError(400, "connection closed inside a request")
            return CLOSED
        return NEED_DATA

    def start_next_request(self) -> None:
        """After ``EndOfMessage``: let the next request on the connection be handed out."""
        self._waiting = False

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._in_message = True
        self._url = b""
        self._begin_head()

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_REQUEST_LINE_BYTES:
            raise HttpError(414, "request line too long")

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self._parser
        method: bytes = parser.get_method()
        http11 = check_version(parser.get_http_version())
        fields = self._fields
        names = [name.lower() for name, _ in fields]
        check_fields(names, http11)
        target, authority = origin_form(method, self._url)
        framing, length = Framing.NONE, 0
        connection: list[bytes] = []
        for index, lower in enumerate(names):
            if lower == b"transfer-encoding":
                check_transfer_coding(fields[index][1])
                framing = Framing.CHUNKED
            elif lower == b"content-length":
                length = int(fields[index][1])
                fields[index] = (fields[index][0], b"%d" % length)  # forwarded as parsed: "02" goes on as "2"
            elif lower == b"connection":
                connection.extend(_tokens(fields[index][1]))
            elif lower == b"host":
                if not valid_host(fields[index][1]):
                    raise HttpError(400, "invalid Host")
                if authority is not None:
                    fields[index] = (fields[index][0], authority)
        if framing is Framing.NONE and length:
            framing = Framing.LENGTH
        if parser.should_upgrade() and framing is not Framing.NONE:
            raise HttpError(400, "an Upgrade request with a body")  # llhttp would not parse the body
        tokens = tuple(connection)
        head = RequestHead(method, target, http11, fields, _keep_alive(http11, tokens), framing, length, tokens)
        self._push(head, _HEAD_GUESS)

    def on_body(self, body: bytes) -> None:
        self._push(Data(body), len(body))

    def on_message_complete(self) -> None:
        self._in_message = False
        self._push(EndOfMessage(self._trailers), 0)


class ResponseParser(_Parser):
    """Parses the responses of one upstream connection; say which request each answers."""

    __slots__ = (
        "_bare_chunk_header",
        "_done",
        "_extra",
        "_framing",
        "_interim",
        "_method",
        "_parser",
        "_reason",
        "_reusable",
        "_started",
        "_tail",
    )

    def __init__(self) -> None:
        super().__init__(502, MAX_HEAD_BYTES)
        self._parser: httptools.HttpResponseParser | None = None
        self._method = b"GET"
        self._reason = b""
        self._done = True
        self._extra = False
        self._started = False
        self._interim = False
        self._framing: Framing | None = None
        self._bare_chunk_header = False
        self._tail = b""
        self._reusable = False
        """llhttp ended the last response itself, on a connection it keeps alive: the next
        response may go through the same llhttp parser (not after HEAD, an error or a close)."""

    @property
    def buffered(self) -> int:
        return self._queued + self._extra

    def expect_response(self, request_method: bytes) -> None:
        """Before each request is sent: the response to come answers ``request_method``."""
        if self._parser is None or not self._reusable or self._extra:
            parser = httptools.HttpResponseParser(self)
            parser.set_dangerous_leniencies(**RESPONSE_LENIENCIES)
            self._parser = parser
        self._reusable = False
        self._method = request_method
        self._events.clear()
        self._queued = 0
        self._error = None
        self._eof = False
        self._done = False
        self._extra = False
        self._started = False
        self._interim = False
        self._framing = None
        self._bare_chunk_header = False
        self._tail = b""

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self._done or self._parser is None:
            self._extra = True
            return
        if self._error is not None:
            return
        head_before = self._in_head
        self._tail = (self._tail + data)[-2:]
        try:
            self._parser.feed_data(data)
            if self._bare_chunk_header and self._tail == b"\n\n" and not self._done:
                # "0\n\n": llhttp (with the leniencies) waits for one more LF after a last chunk
                # whose lines end in bare LFs; a chunk header with no data, then an empty line,
                # can only be the last chunk and the end of the trailers.
                self._parser.feed_data(b"\n")
        except httptools.HttpParserError as error:  # the upgrade and callback errors included
            if self._done:
                self._extra = True
            else:
                self._error = HttpError(502, str(error))
        if head_before:
            self._guard_head(len(data))

    def feed_eof(self) -> None:
        self._eof = True
        if not self._done and self._framing is Framing.UNTIL_CLOSE and self._error is None:
            self._finish()

    def next_event(self) -> Event:
        if self._events:
            return self._pop()
        if self._error is not None:
            raise self._error
        if self._done:
            return PAUSED
        if self._eof:
            if not self._started:
                return CLOSED
            raise HttpError(502, "connection closed inside a response")
        return NEED_DATA

    def _finish(self) -> None:
        self._done = True
        self._push(EndOfMessage(self._trailers), 0)

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self._done:
            self._extra = True
            raise HttpError(502, "bytes after the response")
        self._started = True
        self._reason = b""
        self._begin_head()

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self._parser
        assert parser is not None
        status: int = parser.get_status_code()
        version: str = parser.get_http_version()
        if not version.startswith("1.") or status == 101:
            raise HttpError(502, f"unusable response HTTP/{version} {status}")
        http11 = version != "1.0"
        fields = self._fields
        connection: list[bytes] = []
        codings: list[bytes] = []
        length: int | None = None
        for name, value in fields:
            if len(name) in (10, 14, 17):
                lower = name.lower()
                if lower == b"connection":
                    connection.extend(_tokens(value))
                elif lower == b"transfer-encoding":
                    codings.extend(c for c in _tokens(value) if c)
                elif lower == b"content-length":
                    length = int(value)
        tokens = tuple(connection)
        keep_alive = _keep_alive(http11, tokens)
        if status < 200:
            self._interim = True
            self._push(ResponseHead(status, self._reason, http11, fields, keep_alive, Framing.NONE, 0, tokens), _HEAD_GUESS)
            return
        if self._method == b"HEAD" or status in (204, 304):
            framing, length = Framing.NONE, 0
        elif codings:
            framing, length = (Framing.CHUNKED if codings[-1] == b"chunked" else Framing.UNTIL_CLOSE), 0
        elif length is None:
            framing, length = Framing.UNTIL_CLOSE, 0
        else:
            framing = Framing.LENGTH if length else Framing.NONE
        if framing is Framing.UNTIL_CLOSE:
            keep_alive = False
        self._framing = framing
        self._push(ResponseHead(status, self._reason, http11, fields, keep_alive, framing, length, tokens), _HEAD_GUESS)
        if self._method == b"HEAD":
            # llhttp does not know the request: whatever follows the head is not this response's.
            self._finish()

    def on_body(self, body: bytes) -> None:
        if self._done:
            self._extra = True
            raise HttpError(502, "bytes after the response")
        self._bare_chunk_header = False
        self._push(Data(body), len(body))

    def on_chunk_header(self) -> None:
        self._bare_chunk_header = True

    def on_chunk_complete(self) -> None:
        self._bare_chunk_header = False

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
        elif not self._done:
            self._finish()
            assert self._parser is not None
            self._reusable = self._parser.should_keep_alive()


# --------------------------------------------------------------------------- serializers


def serialize_head(start_line: bytes, headers: list[Header]) -> bytes:
    parts = [start_line]
    for name, value in headers:
        parts.append(name + b": " + value)
    parts.append(b"\r\n")
    return b"\r\n".join(parts)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK: Final = b"0\r\n\r\n"


def last_chunk(trailers: list[Header]) -> bytes:
    if not trailers:
        return LAST_CHUNK
    return b"0\r\n" + b"".join(name + b": " + value + b"\r\n" for name, value in trailers) + b"\r\n"
