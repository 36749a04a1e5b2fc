"""The one exception type for a user's mistake: bad input, a missing file, an unreachable Hub.

Raise it with the input, what was expected and the fix; tracebacks are kept for our own bugs.
"""


class ClaimsError(Exception):
    """A problem the user can fix (bad input, missing data or checkpoint, offline Hub)."""

    def __init__(self, what: str, fix: str | None = None):
        self.what = what
        self.fix = fix
        super().__init__(what if fix is None else f"{what}\n  fix: {fix}")
