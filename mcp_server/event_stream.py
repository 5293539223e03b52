"""Server-sent events read from an upstream answer, decoded as the HTML standard says.

https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation: the bytes
are UTF-8 (invalid bytes become U+FFFD; one leading BOM is dropped); lines end with CRLF, LF or CR,
which may be split across network reads; `field: value` lines fill the event (one space after the
colon is dropped; a line without a colon is a field with an empty value; `:` starts a comment; unknown
fields are ignored); an empty line dispatches the event unless it has no `data` line; an event cut off
by the end of the stream is discarded. One event may hold at most `MAX_EVENT_CHARACTERS`: a stream that
never ends its event must not fill the bridge's memory.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Final

from mcp_server.errors import UpstreamProtocolError

MAX_EVENT_CHARACTERS: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its type (`message` unless an `event` line named one), its data lines
    joined with LF, the last event id seen in the stream, and the `retry` value sent with it, if any."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


class EventStreamDecoder:
    """Feed it the body's bytes as they arrive (`feed`); it returns the events each piece completed."""

    def __init__(self, max_event_characters: int = MAX_EVENT_CHARACTERS) -> None:
        self._limit = max_event_characters
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._started = False  # past the first character (where a BOM may stand)
        self._after_cr = False  # the last piece ended with CR: a LF starting the next one ends no line
        self._line = ""  # the unterminated end of the text so far
        self._size = 0  # characters in the current event's lines
        self._type = ""
        self._data: list[str] = []
        self._id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._text.decode(chunk)
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = text.endswith("\r")
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        lines[0] = self._line + lines[0]
        self._line = lines.pop()  # not ended yet (empty when the text ended with a line break)
        events: list[ServerSentEvent] = []
        for line in lines:
            event = self._take(line)
            if event is not None:
                events.append(event)
        self._check_size(len(self._line))
        return events

    def _take(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        self._check_size(len(line))
        self._size += len(line)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        event = None
        if self._data:  # an event without data lines is dropped (its type too); the id stays
            event = ServerSentEvent(self._type or "message", "\n".join(self._data), self._id, self._retry)
        self._type, self._data, self._retry, self._size = "", [], None, 0
        return event

    def _check_size(self, more: int) -> None:
        if self._size + more > self._limit:
            raise UpstreamProtocolError(
                f"the upstream's answer stream carried an event over {self._limit} characters. "
                "Retry; if it persists the upstream is misbehaving."
            )
