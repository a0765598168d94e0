"""A neutral progress bar for management commands, drawn on a terminal only."""

from __future__ import annotations

from typing import Any

from django.core.management.base import OutputWrapper


def _plain(text: str) -> str:
    return text


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal.

    Written past the command's stderr style (red, for errors) and line ending: a
    healthy run's progress is neither an error nor a new line per step."""

    def __init__(self, stream: Any, label: str) -> None:
        self.stream, self.label = stream, label
        self.enabled = hasattr(stream, "isatty") and stream.isatty()

    def _write(self, text: str) -> None:
        if isinstance(self.stream, OutputWrapper):
            self.stream.write(text, style_func=_plain, ending="")
        else:
            self.stream.write(text)

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = int(30 * done / total)
        self._write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done >= total:
            self._write("\n")
        self.stream.flush()
