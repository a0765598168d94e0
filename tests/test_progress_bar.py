"""The commands' progress bar: one neutral line on a terminal, nothing elsewhere."""

import io

from django.core.management.base import OutputWrapper
from django.core.management.color import color_style

from registry.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_it_redraws_one_line_without_the_error_colour() -> None:
    screen = Terminal()
    stderr = OutputWrapper(screen)
    stderr.style_func = color_style(force_color=True).ERROR  # what a command's stderr does on a terminal
    bar = ProgressBar(stderr, "Planning")
    for done in range(0, 11):
        bar.update(done, 10)
    drawn = screen.getvalue()
    assert "\x1b[" not in drawn  # no colour: progress is not an error
    assert drawn.count("\n") == 1 and drawn.endswith("10/10\n")  # one line, redrawn in place
    assert drawn.count("\r") == 11


def test_elsewhere_it_draws_nothing() -> None:
    log = io.StringIO()
    ProgressBar(OutputWrapper(log), "Planning").update(5, 10)
    assert log.getvalue() == ""
