"""An incremental parser for ``text/event-stream`` (the WHATWG event-stream format).

Linear in the bytes fed: a partial line is kept as pieces and joined once when
it ends, never re-copied per chunk; a run of line ends is one step (blank lines
after the first do nothing, so a flood of newlines costs one regex scan, not a
Python step per byte, and never holds the event loop); bytes are decoded with an
incremental UTF-8 decoder, so a character split across two reads survives; a line
or an event larger than its cap is an error, not a growing buffer.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

MAX_LINE = 1024 * 1024
MAX_EVENT = 4 * 1024 * 1024
# A line's end, and any blank lines right after it.
_LINE_ENDS = re.compile(r"(?:\r\n|\r|\n)+")
_ONE_LINE_END = frozenset({"\r\n", "\r", "\n"})


class EventStreamTooLarge(Exception):
    """A line or an event exceeded its cap."""


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None


class SSEParser:
    """Feed bytes as they arrive; get back the events completed so far."""

    def __init__(self, *, max_line: int = MAX_LINE, max_event: int = MAX_EVENT) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._max_line = max_line
        self._max_event = max_event
        self._partial: list[str] = []
        self._partial_size = 0
        self._pending_cr = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._decoder.decode(chunk)
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the "\n" of a "\r\n" split across two reads
        if text:
            self._pending_cr = text.endswith("\r")
        events: list[ServerSentEvent] = []
        start = 0
        for match in _LINE_ENDS.finditer(text):
            if self._partial:
                line = "".join(self._partial) + text[start : match.start()]
                self._partial, self._partial_size = [], 0
            else:
                line = text[start : match.start()]
            if len(line) > self._max_line:
                raise EventStreamTooLarge(f"an event-stream line is longer than {self._max_line} characters")
            start = match.end()
            blank_after = match.group() not in _ONE_LINE_END
            for each in (line, "") if blank_after else (line,):
                event = self._line(each)
                if event is not None:
                    events.append(event)
        if start < len(text):
            self._partial.append(text[start:])
            self._partial_size += len(text) - start
            if self._partial_size > self._max_line:
                raise EventStreamTooLarge(f"an event-stream line is longer than {self._max_line} characters")
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if line == "":
            if not self._data:
                self._event = ""
                return None
            event = ServerSentEvent(self._event or "message", "\n".join(self._data), self._id)
            self._data, self._data_size, self._event = [], 0, ""
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._data_size += len(value) + 1
            if self._data_size > self._max_event:
                raise EventStreamTooLarge(f"an event is larger than {self._max_event} characters")
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value
        return None

    @property
    def buffered(self) -> int:
        return self._partial_size + self._data_size
