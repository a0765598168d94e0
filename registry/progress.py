"""A neutral progress bar for management commands, drawn on a terminal only."""

from __future__ import annotations

from typing import Any


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: Any, label: str) -> None:
        self.stream, self.label = stream, label
        self.enabled = hasattr(stream, "isatty") and stream.isatty()

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = int(30 * done / total)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
