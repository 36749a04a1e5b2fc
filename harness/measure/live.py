"""Live progress of a long measurement, written where the user watches it while it runs.

Two kinds of output: `line(text)`, an event worth keeping (a job starts, a job is read from the cache, an
evaluation ends), and `status(text)`, the state of the moment (Trainer's step and loss, a speed round), which a
terminal rewrites in place and a log gets now and then (`milestone=True` asks a log to keep it: a logged loss).
Both go to the listener this process installed (`listening`): pytest's terminal reporter through
harness.plugin.progress, stderr for `python -m harness finetune`; with none installed they cost nothing. The
callers (harness.measure.finetune.progress, harness.measure.speed.timing) say what happens; the listener decides
how it looks. Nothing here changes what is measured: a status write happens between timed rounds, never inside one.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from typing import Protocol, TextIO

MODES = ("auto", "live", "lines", "none")  # the --progress choices: auto = live on a terminal, lines elsewhere
LINES_INTERVAL_S = 30.0  # a log gets a status at most this often, milestones aside
LIVE_INTERVAL_S = 0.2  # a terminal's status line is rewritten at most this often


class Listener(Protocol):
    def line(self, text: str) -> None: ...

    def status(self, text: str, milestone: bool = False) -> None: ...


_listener: Listener | None = None


@contextlib.contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Send this process's progress to `listener` (None: nowhere) while the block runs."""
    global _listener
    before, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = before


def active() -> bool:
    """Whether anybody listens (a caller may skip building its text when nobody does)."""
    return _listener is not None


def line(text: str) -> None:
    """An event worth keeping on its own line."""
    if _listener is not None:
        _listener.line(text)


def status(text: str, milestone: bool = False) -> None:
    """The state of the moment: rewritten in place on a terminal; in a log, kept when a milestone or now and then."""
    if _listener is not None:
        _listener.status(text, milestone)


def duration(seconds: float) -> str:
    """A short human duration: 45 s, 12 min, 3.4 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Throttled:
    """What every listener shares: in `live` mode the status is one line rewritten in place (at most every
    LIVE_INTERVAL_S); in `lines` mode a status becomes a line of its own when it is a milestone or LINES_INTERVAL_S
    have passed since the last one. Subclasses say how to write a line, rewrite the status and end it."""

    def __init__(self, live: bool, lines_interval_s: float = LINES_INTERVAL_S):
        self.live, self.lines_interval_s = live, lines_interval_s
        self._open = False  # a status line is on the screen, not yet ended by a newline
        self._last = -float("inf")

    def line(self, text: str) -> None:
        self.end_status()
        self._write_line(text)

    def end_status(self) -> None:
        """End the status line on the screen, if one is open, so that whatever comes next starts a line of its own."""
        if self._open:
            self._end_status()
            self._open = False

    def status(self, text: str, milestone: bool = False) -> None:
        now = time.monotonic()
        if self.live:
            if milestone or now - self._last >= LIVE_INTERVAL_S:
                self._rewrite(text[: max(20, shutil.get_terminal_size().columns - 1)])
                self._last, self._open = now, True
        elif milestone or now - self._last >= self.lines_interval_s:
            self._last = now
            self._write_line(text)

    def _write_line(self, text: str) -> None:
        raise NotImplementedError

    def _rewrite(self, text: str) -> None:
        raise NotImplementedError

    def _end_status(self) -> None:
        raise NotImplementedError


class StreamListener(Throttled):
    """Progress on a plain stream (stderr by default), live when it is a terminal and mode is auto."""

    def __init__(self, mode: str = "auto", stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        super().__init__(mode == "live" or mode == "auto" and self.stream.isatty())

    def _write_line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _rewrite(self, text: str) -> None:
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()

    def _end_status(self) -> None:
        self.stream.write("\n")


def stream_listener(mode: str, stream: TextIO | None = None) -> StreamListener | None:
    """The listener a --progress choice asks for on a stream: None for `none`."""
    return None if mode == "none" else StreamListener(mode, stream)
