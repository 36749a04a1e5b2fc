"""The suite's own errors: a user's mistake (ClaimsError) and, among them, an input that is absent (MissingInput).

Raise them with the input, what was expected and the fix; tracebacks are kept for our own bugs. The
claim tests' policy (harness.plugin) follows the type: a MissingInput (no weights, no data, no GPU,
an option not given) skips the claim naming it and the fix; any other error fails it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ClaimsError(Exception):
    """A problem the user can fix (bad input, missing data or checkpoint, offline Hub)."""

    def __init__(self, what: str, fix: str | None = None):
        self.what = what
        self.fix = fix
        super().__init__(what if fix is None else f"{what}\n  fix: {fix}")


class MissingInput(ClaimsError):
    """An input a measurement needs is not there (weights, data, a GPU, the Hub, an option): skip, never fail."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A fix hint for a mistyped name: its close matches, then every known name."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    return f"{hint}known: {', '.join(sorted(known))}"


def first_line(error: BaseException | str, limit: int = 200) -> str:
    """A library's exception (or a message) as one bounded line for our messages: its first line, else an exception's
    type's name ("" for an empty message)."""
    text = str(error).strip()
    if text:
        return text.splitlines()[0][:limit]
    return type(error).__name__ if isinstance(error, BaseException) else ""


def short_repr(value: object, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters (a message stays one bounded line whatever the input holds)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
