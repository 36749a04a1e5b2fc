"""Where the project's own files are, and where third-party data is looked for beside it.

One home for every path the harness derives from its own location: the claim registry, the fixtures,
the default result cache, and ../shared (the data a checkout may have beside it;
a user's fresh clone has none, and every use of it says so).
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CLAIMS_DIR = PROJECT_ROOT / "claims"
FIXTURES = PROJECT_ROOT / "fixtures"
DEFAULT_CACHE_DIR = PROJECT_ROOT / "cache"


def shared_dir(*parts: str, root: Path = PROJECT_ROOT) -> Path | None:
    """A folder (or file) under ../shared beside `root` (pytest's rootdir, or this project) when it exists, else None."""
    path = Path(root).parent.joinpath("shared", *parts)
    return path if path.exists() else None


def data_root(chosen: str | Path | None, root: Path = PROJECT_ROOT) -> Path | None:
    """The local data root of a run: --data-dir as given (~ expanded), else ../shared/data beside `root`, else None
    (the Hub)."""
    return Path(chosen).expanduser() if chosen else shared_dir("data", root=root)
