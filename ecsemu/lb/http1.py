"""An incremental HTTP/1.1 parser and the serializers the proxy needs. No I/O.

The connection code feeds bytes in (``feed``, ``feed_eof``) and pulls events out
(``next_event``), in the manner of h11; this module never touches a socket, a clock or the
event loop, so every framing rule here is tested with plain byte strings.

Events
------
``RequestHead`` / ``ResponseHead``
    The start line and the header fields (names as sent, values stripped), with the body's
    framing already decided and whether the connection may be kept alive afterwards.
``Data``
    A piece of body, decoded from its framing (chunk sizes removed).
``EndOfMessage``
    The body is complete (``trailers`` of a chunked body, if any).
``NEED_DATA``
    Nothing more until more bytes are fed.
``PAUSED``
    A message is complete; the parser holds any further bytes until the caller starts the
    next message (``start_next_request`` / ``expect_response``). Pipelined requests wait here.
``CLOSED``
    The peer closed the connection cleanly between two messages.

Framing rules (RFC 9112 §6)
---------------------------
* Request: ``Transfer-Encoding`` whose last coding is ``chunked`` → chunked; any other
  transfer coding → 501. ``Content-Length`` → that many bytes. Neither → no body. Both →
  400 (refused, as request smuggling defences do).
* Response: to HEAD, and for 1xx, 204 and 304 → no body. Chunked as above; any other
  transfer coding, or neither header → until the connection closes. Otherwise
  ``Content-Length``.
* Keep-alive: HTTP/1.1 unless ``Connection: close``; HTTP/1.0 only with
  ``Connection: keep-alive``. A body delimited by the close never keeps the connection.

Line terminators (RFC 9112 §2.2)
-------------------------------
* Request: every line of the head, chunk-size line and trailer line ends in CRLF. A CR or
  LF anywhere else in it (a bare LF ending a line, a bare CR inside one) is refused with 400:
  a target that read a bare LF as a line ending would otherwise see a field the proxy never
  saw (a ``Transfer-Encoding`` smuggled past the framing decided here).
* Response: a line ends in CRLF or in a bare LF, as nginx and curl read targets' answers
  (many small servers and CGI scripts write bare LFs); so does the data of a chunk. A bare CR
  (not before the LF) is still an error. What goes on to the client is always re-serialized
  with CRLF (``serialize_head``, ``chunk``, ``last_chunk``), so no bare LF is passed on.

Errors are :class:`HttpError` with the status a server would answer (400, 431, 501); on a
response the proxy turns any of them into its own 502. Obsolete line folding is refused, as
an ALB refuses multi-line headers.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import ClassVar, Final

MAX_HEAD_BYTES: Final = 64 * 1024
"""Request line (or status line) plus header fields; more is answered 431."""
MAX_CHUNK_LINE_BYTES: Final = 4096
Header = tuple[bytes, bytes]


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


# --------------------------------------------------------------------------- head parsing

_BARE_LF_SECTION_END: Final = re.compile(rb"\n\r?\n")
"""The empty line ending a response head (or trailer section): after a LF, a CRLF or a LF."""


def _lines(head: bytes, bare_lf: bool) -> list[bytes]:
    """The lines of a head, its last line's terminator already removed, without terminators.

    A terminator is CRLF (or, with ``bare_lf``, a LF alone); any other CR or LF is an error.
    """
    lines = head.split(b"\r\n")
    terminators = len(lines) - 1
    if head.count(b"\n") == terminators and head.count(b"\r") == terminators:
        return lines
    if bare_lf:
        *ended, last = head.split(b"\n")
        lines = [line[:-1] if line[-1:] == b"\r" else line for line in ended]
        lines.append(last)
        if not any(b"\r" in line for line in lines):
            return lines
        raise HttpError(502, "bare CR in a response's header lines")
    raise HttpError(400, "bare CR or LF in a request's header lines")


_FRAMING_NAME_LENGTHS: Final = frozenset({10, 14, 17})


def _parse_fields(lines: list[bytes]) -> tuple[list[Header], list[bytes], list[bytes], tuple[bytes, ...]]:
    """Header fields, plus in the same pass the values of Content-Length, the transfer codings
    (lower-case) and the Connection tokens (lower-case)."""
    headers: list[Header] = []
    lengths: list[bytes] = []
    codings: list[bytes] = []
    connection: list[bytes] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name[0] in b" \t" or name[-1] in b" \t":
            raise HttpError(400, f"malformed header line {line[:80]!r}")
        value = value.strip(b" \t")
        headers.append((name, value))
        if len(name) in _FRAMING_NAME_LENGTHS:
            lower = name.lower()
            if lower == b"content-length":
                lengths.append(value)
            elif lower == b"transfer-encoding":
                codings.extend(c.strip().lower() for c in value.split(b",") if c.strip())
            elif lower == b"connection":
                connection.extend(t.strip().lower() for t in value.split(b","))
    return headers, lengths, codings, tuple(connection)


def _content_length(values: list[bytes]) -> int | None:
    found: int | None = None
    for value in values:
        for item in value.split(b","):
            text = item.strip()
            if not text.isdigit():
                raise HttpError(400, f"invalid Content-Length {value!r}")
            number = int(text)
            if found is not None and found != number:
                raise HttpError(400, "conflicting Content-Length values")
            found = number
    return found


def _keep_alive(http11: bool, tokens: tuple[bytes, ...]) -> bool:
    if not tokens:
        return http11
    if http11:
        return b"close" not in tokens
    return b"keep-alive" in tokens and b"close" not in tokens


def _version(text: bytes) -> bool:
    """True for HTTP/1.1 (or a later 1.x), False for HTTP/1.0."""
    if text == b"HTTP/1.1":
        return True
    if text == b"HTTP/1.0":
        return False
    if text.startswith(b"HTTP/1.") and text[7:].isdigit():
        return True
    raise HttpError(505 if text.startswith(b"HTTP/") else 400, f"unsupported HTTP version {text[:20]!r}")


def parse_request_head(head: bytes) -> RequestHead:
    """``head``: the request line and fields, CRLF between them, no final CRLF."""
    lines = _lines(head, bare_lf=False)
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise HttpError(400, f"malformed request line {lines[0][:80]!r}")
    method, target, version = parts
    http11 = _version(version)
    headers, lengths, codings, connection = _parse_fields(lines[1:])
    length = _content_length(lengths) if lengths else None
    if codings:
        if length is not None:
            raise HttpError(400, "both Transfer-Encoding and Content-Length")
        if codings[-1] != b"chunked":
            raise HttpError(501, "unsupported transfer coding")
        framing, length = Framing.CHUNKED, 0
    elif length:
        framing = Framing.LENGTH
    else:
        framing, length = Framing.NONE, 0
    return RequestHead(method, target, http11, headers, _keep_alive(http11, connection), framing, length, connection)


def parse_response_head(head: bytes, request_method: bytes) -> ResponseHead:
    """``head``: the status line and fields, each line ended by CRLF or a bare LF but the last."""
    lines = _lines(head, bare_lf=True)
    version, _, rest = lines[0].partition(b" ")
    status_text, _, reason = rest.partition(b" ")
    if len(status_text) != 3 or not status_text.isdigit():
        raise HttpError(502, f"malformed status line {lines[0][:80]!r}")
    status = int(status_text)
    http11 = _version(version)
    headers, lengths, codings, connection = _parse_fields(lines[1:])
    keep_alive = _keep_alive(http11, connection)
    if request_method == b"HEAD" or status < 200 or status in (204, 304):
        return ResponseHead(status, reason, http11, headers, keep_alive, Framing.NONE, 0, connection)
    if codings:
        if codings[-1] == b"chunked":
            return ResponseHead(status, reason, http11, headers, keep_alive, Framing.CHUNKED, 0, connection)
        return ResponseHead(status, reason, http11, headers, False, Framing.UNTIL_CLOSE, 0, connection)
    length = _content_length(lengths) if lengths else None
    if length is None:
        return ResponseHead(status, reason, http11, headers, False, Framing.UNTIL_CLOSE, 0, connection)
    framing = Framing.LENGTH if length else Framing.NONE
    return ResponseHead(status, reason, http11, headers, keep_alive, framing, length, connection)


# --------------------------------------------------------------------------- the parser


class _State(enum.Enum):
    HEAD = 0
    LENGTH = 1
    CHUNK_SIZE = 2
    CHUNK_DATA = 3
    CHUNK_END = 4
    TRAILERS = 5
    UNTIL_CLOSE = 6
    DONE = 7


class _MessageParser:
    """Shared body machinery; subclasses parse their own start line."""

    __slots__ = ("_buf", "_eof", "_pending_end", "_remaining", "_state", "max_head")

    bare_lf: ClassVar[bool] = False
    """Whether a LF alone ends a line (responses), or only CRLF does (requests)."""

    def __init__(self, max_head: int = MAX_HEAD_BYTES) -> None:
        self._buf = bytearray()
        self._state = _State.HEAD
        self._remaining = 0
        self._eof = False
        self._pending_end = False
        self.max_head = max_head

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def at_message_start(self) -> bool:
        """Waiting for a head with nothing of it received yet."""
        return self._state is _State.HEAD and not self._buf

    def feed(self, data: bytes) -> None:
        self._buf += data

    def feed_eof(self) -> None:
        self._eof = True

    def _head(self, head: bytes) -> Event:
        raise NotImplementedError

    def _section_end(self) -> tuple[int, int]:
        """Where the head (or trailer section) at the front of the buffer ends: the length of
        its lines without the last terminator, and of the whole section; (-1, -1) if not yet."""
        buf = self._buf
        if self.bare_lf:
            found = _BARE_LF_SECTION_END.search(buf)
            if found is None:
                return -1, -1
            end = found.start()
            return (end - 1 if end and buf[end - 1] == 13 else end), found.end()
        end = buf.find(b"\r\n\r\n")
        return (end, end + 4) if end >= 0 else (-1, -1)

    def _line_end(self) -> tuple[int, int]:
        """Where the line at the front of the buffer ends: its length without the terminator
        and with it; (-1, -1) if not yet."""
        buf = self._buf
        if self.bare_lf:
            end = buf.find(b"\n")
            if end < 0:
                return -1, -1
            return (end - 1 if end and buf[end - 1] == 13 else end), end + 1
        end = buf.find(b"\r\n")
        return (end, end + 2) if end >= 0 else (-1, -1)

    def _start_body(self, framing: Framing, length: int) -> None:
        if framing is Framing.LENGTH:
            self._state, self._remaining = _State.LENGTH, length
        elif framing is Framing.CHUNKED:
            self._state = _State.CHUNK_SIZE
        elif framing is Framing.UNTIL_CLOSE:
            self._state = _State.UNTIL_CLOSE
        else:
            self._state = _State.DONE

    def _take(self, limit: int) -> bytes:
        buf = self._buf
        if len(buf) <= limit:
            data = bytes(buf)
            buf.clear()
        else:
            data = bytes(buf[:limit])
            del buf[:limit]
        return data

    def next_event(self) -> Event:
        state = self._state
        buf = self._buf
        if state is _State.HEAD:
            end, consumed = self._section_end()
            if end < 0:
                if len(buf) > self.max_head:
                    raise HttpError(431, "header section too large")
                if self._eof:
                    if buf.strip(b"\r\n"):
                        raise HttpError(400, "connection closed inside a message head")
                    return CLOSED
                return NEED_DATA
            if end > self.max_head:
                raise HttpError(431, "header section too large")
            head = bytes(buf[:end])
            del buf[:consumed]
            return self._head(head)
        if state is _State.LENGTH:
            if buf:
                data = self._take(self._remaining)
                self._remaining -= len(data)
                if not self._remaining:
                    self._state = _State.DONE
                    self._pending_end = True
                return Data(data)
            if self._eof:
                raise HttpError(400, "connection closed inside a body")
            return NEED_DATA
        if state is _State.DONE:
            if self._pending_end:
                self._pending_end = False
                return EndOfMessage()
            return PAUSED
        if state is _State.CHUNK_SIZE:
            end, consumed = self._line_end()
            if end < 0:
                if len(buf) > MAX_CHUNK_LINE_BYTES:
                    raise HttpError(400, "chunk size line too long")
                if self._eof:
                    raise HttpError(400, "connection closed inside a chunked body")
                return NEED_DATA
            line = bytes(buf[:end])
            del buf[:consumed]
            if b"\r" in line or b"\n" in line:
                raise HttpError(400, "bare CR or LF in a chunk size line")
            size_text = line.partition(b";")[0].strip(b" \t")
            if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
                raise HttpError(400, f"invalid chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                self._state = _State.TRAILERS
            else:
                self._state, self._remaining = _State.CHUNK_DATA, size
            return self.next_event()
        if state is _State.CHUNK_DATA:
            if buf:
                data = self._take(self._remaining)
                self._remaining -= len(data)
                if not self._remaining:
                    self._state = _State.CHUNK_END
                return Data(data)
            if self._eof:
                raise HttpError(400, "connection closed inside a chunked body")
            return NEED_DATA
        if state is _State.CHUNK_END:
            if self.bare_lf and buf[:1] == b"\n":
                del buf[:1]
                self._state = _State.CHUNK_SIZE
                return self.next_event()
            if len(buf) < 2:
                if self._eof:
                    raise HttpError(400, "connection closed inside a chunked body")
                return NEED_DATA
            if buf[:2] != b"\r\n":
                raise HttpError(400, "chunk data not followed by a line end")
            del buf[:2]
            self._state = _State.CHUNK_SIZE
            return self.next_event()
        if state is _State.TRAILERS:
            empty = 2 if buf[:2] == b"\r\n" else 1 if self.bare_lf and buf[:1] == b"\n" else 0
            if empty:
                del buf[:empty]
                self._state = _State.DONE
                return EndOfMessage()
            end, consumed = self._section_end()
            if end < 0:
                if len(buf) > self.max_head:
                    raise HttpError(431, "trailer section too large")
                if self._eof:
                    raise HttpError(400, "connection closed inside trailers")
                return NEED_DATA
            trailers = _parse_fields(_lines(bytes(buf[:end]), self.bare_lf))[0]
            del buf[:consumed]
            self._state = _State.DONE
            return EndOfMessage(trailers)
        # UNTIL_CLOSE
        if buf:
            return Data(self._take(len(buf)))
        if self._eof:
            self._state = _State.DONE
            return EndOfMessage()
        return NEED_DATA


class RequestParser(_MessageParser):
    """Parses the requests a client sends on one connection, one at a time."""

    __slots__ = ()

    def _head(self, head: bytes) -> Event:
        # Robustness (RFC 9112 §2.2): empty lines before a request line are ignored.
        head = head.lstrip(b"\r\n")
        request = parse_request_head(head)
        self._start_body(request.framing, request.content_length)
        self._pending_end = request.framing is Framing.NONE
        return request

    def start_next_request(self) -> None:
        """After ``EndOfMessage``: let the next request on the connection be parsed."""
        self._state = _State.HEAD


class ResponseParser(_MessageParser):
    """Parses the responses of one upstream connection; say which request each answers.

    Lines may end in a bare LF (see "Line terminators" above)."""

    __slots__ = ("_method",)

    bare_lf: ClassVar[bool] = True

    def __init__(self, max_head: int = MAX_HEAD_BYTES) -> None:
        super().__init__(max_head)
        self._method = b"GET"
        self._state = _State.DONE

    def expect_response(self, request_method: bytes) -> None:
        """Before each request is sent: the response to come answers ``request_method``."""
        self._method = request_method
        self._state = _State.HEAD
        self._pending_end = False

    def _head(self, head: bytes) -> Event:
        response = parse_response_head(head, self._method)
        if response.status < 200:
            # An interim response (100 Continue...): the final one follows; stay in HEAD.
            return response
        self._start_body(response.framing, response.content_length)
        self._pending_end = response.framing is Framing.NONE
        return response


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
